"""Symbols of an Arm ELF (read with pyelftools, build/elf.py)."""

from __future__ import annotations

import re
from pathlib import Path

from ..build.elf import defined_symbols, is_listed, open_elf, sections, symbols
from ..targets import MemoryRegion

# The code generator names layer i's constant arrays (weights, bias, multipliers) l<i>_*.
_LAYER_CONSTANT = re.compile(r"^l(\d+)_")


def read_symbols(elf: Path | str) -> dict[str, int]:
    """name -> address, with the Thumb bit of functions (and other code symbols) cleared."""
    with open_elf(elf) as opened:
        code = {s.name for s in sections(opened) if s.executable}
        listed = [s for s in symbols(opened) if is_listed(s)]
    return {s.name: s.value & ~1 if s.section in code else s.value for s in listed}


def layer_constant_bytes(elf: Path | str, region: MemoryRegion) -> dict[int, int]:
    """Bytes of each layer's constant arrays that the linker put in `region` (e.g. flash)."""
    sizes: dict[int, int] = {}
    for symbol in defined_symbols(elf):
        if symbol.size and (m := _LAYER_CONSTANT.match(symbol.name)):
            if region.origin <= symbol.value < region.origin + region.length:
                sizes[int(m[1])] = sizes.get(int(m[1]), 0) + symbol.size
    return sizes
