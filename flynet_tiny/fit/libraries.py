"""Sizes of the libc / libgcc members a set of external symbols pulls into the link.

The linker takes whole archive members; a member may need further symbols from others.
`library_table` reads, once per board, which member defines each symbol, which symbols
each member needs and its size (the board's multilib archives, read with pyelftools: build/elf.py).
"""

from __future__ import annotations


from ..build.elf import Section, Symbol, archive_members, open_elf, section_sizes, sections, symbols
from ..build.toolchain import find_toolchain
from ..errors import FlynetError
from ..processes import INSPECT_TIMEOUT_S, run_tool
from ..targets import Target


def _tool_output(command: list, what: str) -> str:
    proc = run_tool(command, timeout_s=INSPECT_TIMEOUT_S, what=what)
    if proc.returncode != 0:
        raise FlynetError(f"{what} failed: {(proc.stderr.strip().splitlines() or ['no output'])[0]}")
    return proc.stdout


def _archives(target: Target) -> list[str]:
    gcc = str(find_toolchain().gcc)
    flags = list(target.arch_flags)
    libc = _tool_output([gcc, *flags, "-print-file-name=libc_nano.a"], "arm-none-eabi-gcc -print-file-name").strip()
    libgcc = _tool_output([gcc, *flags, "-print-libgcc-file-name"], "arm-none-eabi-gcc -print-libgcc-file-name").strip()
    archives = [a for a in (libc, libgcc) if a and "/" in a]
    if len(archives) != 2:
        raise FlynetError("libc_nano.a / libgcc.a not found for the board's flags: apt-get install libnewlib-arm-none-eabi")
    return archives


def _nm_letter(symbol: Symbol, kinds: dict[str, Section]) -> str | None:
    """nm's one-letter class of a global or weak symbol: U (needed), T / D / R / B / W (defined), else None."""
    if not symbol.defined:
        return "U" if symbol.bind == "STB_GLOBAL" else None
    if symbol.bind == "STB_WEAK":
        return "W" if symbol.kind != "STT_OBJECT" and symbol.section is not None else None
    section = kinds.get(symbol.section or "")
    if symbol.bind != "STB_GLOBAL" or section is None or not section.allocated:
        return None
    if section.executable:
        return "T"
    if section.nobits:
        return "B"
    return "D" if section.writable else "R"


def library_table(target: Target) -> dict:
    """{"defines": symbol -> member, "needs": member -> [symbols], "bytes": member -> flash bytes}."""
    defines: dict[str, str] = {}
    needs: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for archive in _archives(target):
        label = archive.rsplit("/", 1)[-1]
        for name, data in archive_members(archive):
            member = f"{label}({name})"
            with open_elf(f"{archive}({name})", data) as elf:
                member_sections = sections(elf)
                by_name = {s.name: s for s in member_sections}
                for symbol in symbols(elf):
                    letter = _nm_letter(symbol, by_name)
                    if letter == "U":
                        needs.setdefault(member, []).append(symbol.name)
                    elif letter is not None and symbol.name not in defines:
                        defines[symbol.name] = member
                # text and data are in flash; bss is tiny and counted with the calibrated rest.
                size = section_sizes(member_sections)
            sizes[member] = size.text + size.data
    return {"defines": defines, "needs": {m: sorted(names) for m, names in needs.items()}, "bytes": sizes}


def members_for(table: dict, symbols: set[str]) -> set[str]:
    """The archive members the linker takes to define `symbols` (transitively)."""
    taken: set[str] = set()
    todo = [s for s in symbols]
    while todo:
        member = table["defines"].get(todo.pop())
        if member is None or member in taken:
            continue
        taken.add(member)
        todo.extend(table["needs"].get(member, []))
    return taken


def extra_library_bytes(table: dict, wanted: set[str], already: set[str]) -> tuple[int, list[str]]:
    """Flash bytes of members `wanted` needs beyond those `already` needs (and their names)."""
    base = members_for(table, already)
    extra = sorted(members_for(table, wanted | already) - base)
    return sum(table["bytes"].get(m, 0) for m in extra), extra
