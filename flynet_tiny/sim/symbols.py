"""Symbol addresses of an Arm ELF, read with arm-none-eabi-nm."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..codegen.toolchain import find_toolchain
from ..errors import FlynetError


def read_symbols(elf: Path | str) -> dict[str, int]:
    """name -> address, with the Thumb bit of function symbols cleared."""
    nm = find_toolchain().nm
    proc = subprocess.run([str(nm), str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise FlynetError(f"cannot read symbols of {elf}: {proc.stderr.strip() or 'not an ELF file'}")
    symbols = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            address, kind, name = parts
            value = int(address, 16)
            symbols[name] = value & ~1 if kind in "Tt" else value
    return symbols
