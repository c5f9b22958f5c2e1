"""After the build: what a linked ELF really puts in each memory region of the board.

Per region, `used` is the end of the last section placed there minus the region's origin,
the same number ld's --print-memory-usage prints; initialised data counts in RAM and, as
its load image, in flash. With the map file beside the ELF, the flash bytes are also split
by input file (the model's objects, the kernels, newlib, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..build.linker_script import memory_regions
from ..errors import FlynetError
from ..processes import INSPECT_TIMEOUT_S, run_tool
from ..targets import MemoryRegion, Target
from .objects import binutil

# objdump -h: index, name, size, VMA, LMA, file offset, alignment; the flags on the next line.
_HEADER = re.compile(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+2\*\*\d+\s*\n\s+(.*)$", re.M)
_MAP_INPUT = re.compile(r"^ (\.\S+)\s*\n?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", re.M)
# The FPU tells the two cores apart (both are ARMv7E-M): -mfpu=fpv4-sp-d16 on the M4, fpv5-sp-d16 on the M7.
FP_ARCH_OF_CORE = {"cortex-m4": "VFPv4-D16", "cortex-m7": "FPv5/FP-D16"}


@dataclass(frozen=True)
class ElfSection:
    name: str
    size: int
    vma: int
    lma: int
    loaded: bool  # has a load image (CONTENTS + LOAD)


@dataclass(frozen=True)
class ElfUsage:
    path: Path
    emulation: bool                  # linked for the QEMU machine's memory map
    regions: dict[str, int]          # region -> used bytes
    sizes: dict[str, int]            # region -> size
    sections: list[ElfSection]
    by_input: dict[str, int]         # flash bytes per input file, from the map file (empty without one)


def read_sections(elf: Path) -> list[ElfSection]:
    proc = run_tool([binutil("objdump"), "-h", elf], timeout_s=INSPECT_TIMEOUT_S, what=f"arm-none-eabi-objdump on {elf}")
    if proc.returncode != 0:
        raise FlynetError(f"{elf} is not an ELF file objdump can read: pass the firmware.elf of `flynet-tiny build`")
    sections = []
    for name, size, vma, lma, flags in _HEADER.findall(proc.stdout):
        if "ALLOC" in flags:
            sections.append(ElfSection(name, int(size, 16), int(vma, 16), int(lma, 16),
                                       "LOAD" in flags and "CONTENTS" in flags))
    return sections


def check_core(elf: Path, target: Target) -> None:
    """FlynetError when the ELF is not 32-bit Arm code for the target's core."""
    proc = run_tool([binutil("readelf"), "-h", "-A", elf], timeout_s=INSPECT_TIMEOUT_S,
                    what=f"arm-none-eabi-readelf on {elf}")
    if proc.returncode != 0:
        raise FlynetError(f"{elf} is not an ELF file: pass the firmware.elf of `flynet-tiny build`")
    machine = re.search(r"Machine:\s+(.*)", proc.stdout)
    if not machine or machine[1].strip() != "ARM":
        raise FlynetError(f"{elf} is for {machine[1].strip() if machine else 'an unknown machine'}, not Arm: "
                          f"pass a firmware built for {target.board}")
    fp = re.search(r"Tag_FP_arch:\s+(.*)", proc.stdout)
    wanted = FP_ARCH_OF_CORE.get(target.core)
    if wanted and (fp is None or not fp[1].strip().startswith(wanted)):
        found = fp[1].strip() if fp else "no FPU"
        other = next((c for c, f in FP_ARCH_OF_CORE.items() if fp and fp[1].strip().startswith(f)), None)
        hint = f" (built for a {other})" if other else ""
        raise FlynetError(f"{elf} has FPU {found}{hint}, not the {target.core}'s {wanted}: "
                          f"pass --target for the board it was built for, or rebuild for {target.name}")


def _usage(sections: list[ElfSection], regions: list[MemoryRegion]) -> dict[str, int] | None:
    """Used bytes per region, or None when a section lies outside every region (another memory map)."""
    ends: dict[str, int] = {r.name: r.origin for r in regions}

    def region_of(address: int, size: int) -> MemoryRegion | None:
        return next((r for r in regions if r.origin <= address and address + size <= r.origin + r.length), None)

    for s in sections:
        if s.size == 0:
            continue
        places = [s.vma] + ([s.lma] if s.loaded and s.lma != s.vma else [])
        for address in places:
            region = region_of(address, s.size)
            if region is None:
                return None
            ends[region.name] = max(ends[region.name], address + s.size)
    return {r.name: ends[r.name] - r.origin for r in regions}


def map_inputs(map_file: Path, flash: MemoryRegion) -> dict[str, int]:
    """Flash bytes per input file (object or archive) from a GNU ld map file."""
    text = map_file.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    totals: dict[str, int] = {}
    for _, address, size, source in _MAP_INPUT.findall(text[max(start, 0):]):
        if flash.origin <= int(address, 16) < flash.origin + flash.length and int(size, 16):
            name = Path(source.split("(")[0]).name
            totals[name] = totals.get(name, 0) + int(size, 16)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def elf_usage(elf: Path | str, target: Target) -> ElfUsage:
    """Per-region use of a linked firmware ELF for `target` (board or emulation memory map)."""
    elf = Path(elf)
    if not elf.is_file():
        raise FlynetError(f"{elf} does not exist: pass the firmware.elf written by `flynet-tiny build`")
    check_core(elf, target)
    sections = read_sections(elf)
    for emulation in (False, True):
        regions = memory_regions(target, emulation)
        used = _usage(sections, regions)
        if used is not None:
            break
    else:
        raise FlynetError(f"{elf} places sections outside {target.board}'s memory (and its emulator's): "
                          f"pass --target for the board it was built for")
    map_file = elf.with_suffix(".map")
    flash = next(r for r in regions if r.kind == "flash")
    return ElfUsage(elf, emulation, used, {r.name: r.length for r in regions}, sections,
                    map_inputs(map_file, flash) if map_file.is_file() else {})
