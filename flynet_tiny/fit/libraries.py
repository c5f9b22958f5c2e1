"""Sizes of the libc / libgcc members a set of external symbols pulls into the link.

The linker takes whole archive members; a member may need further symbols from others.
`library_table` reads, once per board, which member defines each symbol, which symbols
each member needs and its size (arm-none-eabi-nm / -size on the board's multilib archives).
"""

from __future__ import annotations

import re
import subprocess

from ..build.toolchain import find_toolchain
from ..errors import FlynetError
from ..targets import Target
from .objects import binutil

_NM_LINE = re.compile(r"^(?P<archive>[^:]+):(?P<member>[^:]+):\s*(?:[0-9a-f]+\s+)?(?:[0-9a-f]+\s+)?(?P<kind>\w)\s+(?P<name>\S+)$")
_SIZE_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+[0-9a-f]+\s+(\S+)\s+\(ex (\S+)\)$")


def _archives(target: Target) -> list[str]:
    gcc = str(find_toolchain().gcc)
    flags = list(target.arch_flags)
    libc = subprocess.run([gcc, *flags, "-print-file-name=libc_nano.a"], capture_output=True, text=True).stdout.strip()
    libgcc = subprocess.run([gcc, *flags, "-print-libgcc-file-name"], capture_output=True, text=True).stdout.strip()
    archives = [a for a in (libc, libgcc) if a and "/" in a]
    if len(archives) != 2:
        raise FlynetError("libc_nano.a / libgcc.a not found for the board's flags: apt-get install libnewlib-arm-none-eabi")
    return archives


def library_table(target: Target) -> dict:
    """{"defines": symbol -> member, "needs": member -> [symbols], "bytes": member -> flash bytes}."""
    defines: dict[str, str] = {}
    needs: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for archive in _archives(target):
        label = archive.rsplit("/", 1)[-1]
        nm = subprocess.run([str(binutil("nm")), "-A", "-S", archive], capture_output=True, text=True, check=True)
        for line in nm.stdout.splitlines():
            if m := _NM_LINE.match(line):
                member = f"{label}({m['member']})"
                if m["kind"] == "U":
                    needs.setdefault(member, []).append(m["name"])
                elif m["kind"] in "TDRBW" and m["name"] not in defines:
                    defines[m["name"]] = member
        size = subprocess.run([str(find_toolchain().size), archive], capture_output=True, text=True, check=True)
        for line in size.stdout.splitlines():
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
