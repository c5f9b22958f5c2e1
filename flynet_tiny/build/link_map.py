"""The input sections of a GNU ld map file (`-Map=firmware.map`): which object put how many bytes where.

The linked ELF knows its output sections but not which object each byte came from; the map does. One
parser for the fit (flash per input file) and the code-size budget (runtime code per object).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_WHOLE = re.compile(r"^ (\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$")
_NAME_ONLY = re.compile(r"^ (\.\S+)$")  # a long section name puts its address and size on the next line
_REST = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$")


@dataclass(frozen=True)
class InputSection:
    section: str  # e.g. .text.fn_conv2d_s8
    address: int
    size: int
    source: str  # the object, or archive(member), as the map names it

    @property
    def file_name(self) -> str:
        """The object's or archive's file name, without folders or the archive member."""
        return Path(self.source.split("(")[0]).name


def input_sections(map_text: str) -> list[InputSection]:
    """Every input section the linker placed, in map order (from its "Linker script and memory map" part)."""
    start = map_text.find("Linker script and memory map")
    out, pending = [], None
    for line in map_text[max(start, 0):].splitlines():
        if m := _WHOLE.match(line):
            section, address, size, source = m.groups()
        elif pending and (m := _REST.match(line)):
            section, (address, size, source) = pending, m.groups()
        else:
            name_only = _NAME_ONLY.match(line)
            pending = name_only[1] if name_only else None
            continue
        pending = None
        out.append(InputSection(section, int(address, 16), int(size, 16), source))
    return out


def read_input_sections(map_path: Path | str) -> list[InputSection]:
    return input_sections(Path(map_path).read_text(errors="replace"))
