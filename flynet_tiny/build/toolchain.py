"""Find the Arm cross toolchain (arm-none-eabi-gcc and its binutils) and `make`."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import FlynetError


_INSTALL_HINT = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"


@dataclass(frozen=True)
class Toolchain:
    gcc: Path
    objcopy: Path  # the Makefile's .bin / .hex; ELF files are read in Python (elf.py)
    make: Path


def find_toolchain() -> Toolchain:
    """The arm-none-eabi tools on PATH; FlynetError naming the Debian packages if absent."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise FlynetError(f"arm-none-eabi-gcc not found: {_INSTALL_HINT}")
    tools = {}
    for tool in ("objcopy",):
        # binutils sit beside gcc; PATH is the fallback for split installs.
        beside = Path(gcc).with_name(f"arm-none-eabi-{tool}")
        found = str(beside) if beside.exists() else shutil.which(f"arm-none-eabi-{tool}")
        if found is None:
            raise FlynetError(f"arm-none-eabi-{tool} not found: apt-get install binutils-arm-none-eabi")
        tools[tool] = Path(found)
    make = shutil.which("make")
    if make is None:
        raise FlynetError("make not found: apt-get install make")
    return Toolchain(gcc=Path(gcc), make=Path(make), **tools)
