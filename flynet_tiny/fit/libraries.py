"""Sizes of the libc / libgcc members a set of external symbols pulls into the link.

The linker takes whole archive members; a member may need further symbols from others.
`library_table` reads, once per board, which member defines each symbol, which symbols
each member needs and its size (arm-none-eabi-nm / -size on the board's multilib archives).
"""

from __future__ import annotations

import re

from ..build.toolchain import find_toolchain
from ..errors import FlynetError
from ..processes import INSPECT_TIMEOUT_S, run_tool
from ..targets import Target
from .objects import binutil

_NM_LINE = re.compile(r"^(?P<archive>[^:]+):(?P<member>[^:]+):\s*(?:[0-9a-f]+\s+)?(?:[0-9a-f]+\s+)?(?P<kind>\w)\s+(?P<name>\S+)$")
_SIZE_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+[0-9a-f]+\s+(\S+)\s+\(ex (\S+)\)$")


def _archives(target: Target) -> list[str]:
    gcc = str(find_toolchain().gcc)
    flags = list(target.arch_flags)
    libc = _tool_output([gcc, *flags, "-print-file-name=libc_nano.a"], "arm-none-eabi-gcc -print-file-name").strip()
    libgcc = _tool_output([gcc, *flags, "-print-libgcc-file-name"], "arm-none-eabi-gcc -print-libgcc-file-name").strip()
    archives = [a for a in (libc, libgcc) if a and "/" in a]
    if len(archives) != 2:
        raise FlynetError("libc_nano.a / libgcc.a not found for the board's flags: apt-get install libnewlib-arm-none-eabi")
    return archives


def _tool_output(command: list, what: str) -> str:
    proc = run_tool(command, timeout_s=INSPECT_TIMEOUT_S, what=what)
    if proc.returncode != 0:
        raise FlynetError(f"{what} failed: {(proc.stderr.strip().splitlines() or ['no output'])[0]}")
    return proc.stdout


def library_table(target: Target) -> dict:
    """{"defines": symbol -> member, "needs": member -> [symbols], "bytes": member -> flash bytes}."""
    defines: dict[str, str] = {}
    needs: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for archive in _archives(target):
        label = archive.rsplit("/", 1)[-1]
        for line in _tool_output([binutil("nm"), "-A", "-S", archive], f"arm-none-eabi-nm on {archive}").splitlines():
            if m := _NM_LINE.match(line):
                member = f"{label}({m['member']})"
                if m["kind"] == "U":
                    needs.setdefault(member, []).append(m["name"])
                elif m["kind"] in "TDRBW" and m["name"] not in defines:
                    defines[m["name"]] = member
        for line in _tool_output([find_toolchain().size, archive], f"arm-none-eabi-size on {archive}").splitlines():
            if m := _SIZE_LINE.match(line):
                # text and data are in flash; bss is tiny and counted with the calibrated rest.
                sizes[f"{label}({m[4]})"] = int(m[1]) + int(m[2])
    return {"defines": defines, "needs": needs, "bytes": sizes}


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
