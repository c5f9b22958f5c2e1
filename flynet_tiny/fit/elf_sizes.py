"""After the build: what a linked ELF really puts in each memory region of the board.

Per region, `used` is the end of the last section placed there minus the region's origin,
the same number ld's --print-memory-usage prints; initialised data counts in RAM and, as
its load image, in flash. With the map file beside the ELF, the flash bytes are also split
by input file (the model's objects, the kernels, newlib, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..build.elf import fp_arch, load_address, open_elf, sections
from ..build.link_map import read_input_sections
from ..build.linker_script import memory_regions
from ..errors import FlynetError
from ..targets import MemoryRegion, Target

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
    """The allocated sections of a linked ELF, with their load addresses."""
    with open_elf(elf) as opened:
        return [ElfSection(s.name, s.size, s.address, load_address(opened, s.index), not s.nobits)
                for s in sections(opened) if s.allocated]


def check_core(elf: Path, target: Target) -> None:
    """FlynetError when the ELF is not 32-bit Arm code for the target's core."""
    with open_elf(elf) as opened:
        machine = opened["e_machine"]
        fp = fp_arch(opened)
    if machine != "EM_ARM":
        raise FlynetError(f"{elf} is for {machine.removeprefix('EM_')}, not Arm: pass a firmware built for {target.board}")
    wanted = FP_ARCH_OF_CORE.get(target.core)
    if wanted and (fp is None or not fp.startswith(wanted)):
        found = fp or "no FPU"
        other = next((c for c, f in FP_ARCH_OF_CORE.items() if fp and fp.startswith(f)), None)
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
    totals: dict[str, int] = {}
    for entry in read_input_sections(map_file):
        if flash.origin <= entry.address < flash.origin + flash.length and entry.size:
            totals[entry.file_name] = totals.get(entry.file_name, 0) + entry.size
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
