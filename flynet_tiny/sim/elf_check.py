"""Is a file an emulation build for this board? Checked before QEMU starts, so that a wrong file
fails in one line instead of running to the timeout.

Three facts decide it: the ELF header (32-bit little-endian Arm), the board support linked in
(emulation builds carry newlib's semihosting console, `initialise_monitor_handles`; real-board
builds drive a UART instead), and the memory map (every loaded segment inside the QEMU machine's
regions as the emulation link script places them, which differ per board).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from ..build.linker_script import memory_regions
from ..build.options import ARTIFACT_NAME, BUILD_RECORD
from ..errors import FlynetError
from ..targets import Target, all_targets

EM_ARM = 40
PT_LOAD = 1
VECTOR_TABLE = "fn_vector_table"
SEMIHOSTING_CONSOLE = "initialise_monitor_handles"


@dataclass(frozen=True)
class Segment:
    address: int       # where the code runs (VMA)
    load_address: int  # where its bytes are stored (LMA)
    file_bytes: int
    memory_bytes: int


def read_load_segments(elf: Path) -> list[Segment]:
    """The PT_LOAD segments of a 32-bit little-endian Arm ELF; FlynetError for anything else."""
    with open(elf, "rb") as fh:
        header = fh.read(52)
        if len(header) < 52 or header[:4] != b"\x7fELF":
            raise FlynetError(f"{elf} is not an ELF file: pass the firmware.elf of `flynet-tiny build --emulation`")
        if header[4] != 1 or header[5] != 1:
            raise FlynetError(f"{elf} is not a 32-bit little-endian ELF, so not Cortex-M firmware: "
                              "pass the firmware.elf of `flynet-tiny build --emulation`")
        machine, = struct.unpack_from("<H", header, 18)
        if machine != EM_ARM:
            raise FlynetError(f"{elf} is built for ELF machine {machine}, not Arm: "
                              "pass the firmware.elf of `flynet-tiny build --emulation`")
        phoff, = struct.unpack_from("<I", header, 28)
        phentsize, phnum = struct.unpack_from("<HH", header, 42)
        if phentsize < 32 or phnum > 64:
            raise FlynetError(f"{elf} has a corrupt program header table: rebuild it")
        fh.seek(phoff)
        table = fh.read(phentsize * phnum)
    if len(table) < phentsize * phnum:
        raise FlynetError(f"{elf} is truncated (program headers past its end): rebuild it")
    segments = []
    for i in range(phnum):
        kind, _, vaddr, paddr, filesz, memsz = struct.unpack_from("<6I", table, i * phentsize)
        if kind == PT_LOAD and memsz:
            segments.append(Segment(vaddr, paddr, filesz, memsz))
    if not segments:
        raise FlynetError(f"{elf} loads nothing into memory: pass the firmware.elf of `flynet-tiny build --emulation`")
    return segments


def fits_machine(segments: list[Segment], target: Target, emulation: bool = True) -> bool:
    """Every segment's run and load ranges lie inside one of the link's memory regions."""
    regions = memory_regions(target, emulation)

    def inside(start: int, size: int) -> bool:
        return size == 0 or any(r.origin <= start and start + size <= r.origin + r.length for r in regions)

    return all(inside(s.address, s.memory_bytes) and inside(s.load_address, s.file_bytes) for s in segments)


def check_emulation_elf(elf: Path, target: Target, symbols: dict[str, int], segments: list[Segment]) -> None:
    """FlynetError, naming the flag that fixes it, unless `elf` (its symbols and read_load_segments) is an
    emulation build for `target`."""
    rebuild = f"`flynet-tiny build --target {target.name} --emulation`"
    if VECTOR_TABLE not in symbols:
        raise FlynetError(f"{elf} is not flynet-tiny firmware (no {VECTOR_TABLE}): build one with {rebuild}")
    if SEMIHOSTING_CONSOLE not in symbols:
        raise FlynetError(f"{elf} is a real-board build for {target.board}, which QEMU cannot run (it has no "
                          f"semihosting console): {emulation_commands(elf, target)}")
    if fits_machine(segments, target):
        return
    machine = target.emulator["qemu_machine"]
    for other in all_targets():
        if other.name != target.name and fits_machine(segments, other):
            raise FlynetError(f"{elf} is an emulation build for {other.board} (QEMU {other.emulator['qemu_machine']}), "
                              f"not for {target.board}: pass --target {other.name}")
    first = next(s for s in segments if not fits_machine([s], target))
    raise FlynetError(f"{elf} places {first.memory_bytes} bytes at 0x{first.address:08x}, outside the memory of QEMU "
                      f"{machine}: rebuild it with {rebuild}")


def emulation_commands(elf: Path, target: Target) -> str:
    """The commands that give (or point at) the emulation build of the model a real-board `elf` was built from."""
    folder = elf.resolve().parent
    bench_elf = folder.parent / f"bench-{target.name}" / "firmware" / f"{ARTIFACT_NAME}.elf"
    if folder.name == f"firmware-{target.name}" and bench_elf.is_file():  # export --bench wrote one beside it
        return f"emulate its bench build, `flynet-tiny emulate {_shown(bench_elf)} --target {target.name}`"
    record = folder / BUILD_RECORD
    if not record.is_file():
        return f"build the emulation one with `flynet-tiny build --target {target.name} --emulation` and the same --model"
    # Written by `flynet-tiny build` and `export --target`: the model relative to the folder.
    built = json.loads(record.read_text())
    model = folder / built["model"]
    model_text = _shown(model.parent if model.name == "model_int8.tflite" else model)  # as `build --model` takes it
    out = f"build/{target.name}-emu"
    return (f"build the emulation one with `flynet-tiny build --target {target.name} --model {model_text} "
            f"--opt {built['opt']} --emulation --out {out}`, then `flynet-tiny emulate {out}/{ARTIFACT_NAME}.elf "
            f"--target {target.name}`")


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
