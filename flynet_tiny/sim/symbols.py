"""Symbols of an Arm ELF, read with arm-none-eabi-nm."""

from __future__ import annotations

import re
from pathlib import Path

from ..build.toolchain import find_toolchain
from ..errors import FlynetError
from ..processes import INSPECT_TIMEOUT_S, run_tool
from ..targets import MemoryRegion

# The code generator names layer i's constant arrays (weights, bias, multipliers) l<i>_*.
_LAYER_CONSTANT = re.compile(r"^l(\d+)_")


def _nm_lines(elf: Path | str, *flags: str) -> list[list[str]]:
    proc = run_tool([find_toolchain().nm, *flags, elf], timeout_s=INSPECT_TIMEOUT_S, what=f"arm-none-eabi-nm on {elf}")
    if proc.returncode != 0:
        raise FlynetError(f"cannot read symbols of {elf}: {proc.stderr.strip() or 'not an ELF file'}")
    return [line.split() for line in proc.stdout.splitlines()]


def read_symbols(elf: Path | str) -> dict[str, int]:
    """name -> address, with the Thumb bit of function symbols cleared."""
    symbols = {}
    for parts in _nm_lines(elf):
        if len(parts) == 3:
            address, kind, name = parts
            value = int(address, 16)
            symbols[name] = value & ~1 if kind in "Tt" else value
    return symbols


def layer_constant_bytes(elf: Path | str, region: MemoryRegion) -> dict[int, int]:
    """Bytes of each layer's constant arrays that the linker put in `region` (e.g. flash)."""
    sizes: dict[int, int] = {}
    for parts in _nm_lines(elf, "-S"):
        if len(parts) == 4 and (m := _LAYER_CONSTANT.match(parts[3])):
            address, size = int(parts[0], 16), int(parts[1], 16)
            if region.origin <= address < region.origin + region.length:
                sizes[int(m[1])] = sizes.get(int(m[1]), 0) + size
    return sizes
