"""Tell a board build from an emulation build before QEMU runs it, and say in CLI words how to get the
emulation build of the same model.

Every firmware the CLI links holds the startup code's fn_vector_table; only an emulation build holds
newlib's semihosting start-up (initialise_monitor_handles, called by boards/qemu/board_qemu.c): a board
build talks to the board's clocks and UART instead, which QEMU's machine lacks (it hangs or faults).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..build.options import ARTIFACT_NAME, BUILD_RECORD
from ..errors import FlynetError
from ..targets import Target
from .symbols import read_symbols

SEMIHOSTING_START = "initialise_monitor_handles"


def is_board_build(symbols: dict[str, int]) -> bool:
    return "fn_vector_table" in symbols and SEMIHOSTING_START not in symbols


def emulation_commands(elf: Path, target: Target) -> str:
    """The commands that give (or point at) the emulation build of the model `elf` was built from."""
    folder = elf.resolve().parent
    export = folder.parent
    bench_elf = export / f"bench-{target.name}" / "firmware" / f"{ARTIFACT_NAME}.elf"
    if folder.name == f"firmware-{target.name}" and bench_elf.is_file():  # export --bench wrote one beside it
        return f"`flynet-tiny emulate {_shown(bench_elf)} --target {target.name}`"
    record = folder / BUILD_RECORD
    model, opt = "EXPORT", "size"
    if record.is_file():  # written by `flynet-tiny build` and `export --target`: the model relative to the folder
        built = json.loads(record.read_text())
        model, opt = _shown(folder / built["model"]), built["opt"]
        if Path(model).name == "model_int8.tflite":
            model = _shown(Path(model).parent)  # its export folder, as `build --model` takes it
    out = f"build/{target.name}-emu"
    return (f"`flynet-tiny build --target {target.name} --model {model} --opt {opt} --emulation --out {out}`, then "
            f"`flynet-tiny emulate {out}/{ARTIFACT_NAME}.elf --target {target.name}`")


def check_emulation_build(elf: Path | str, target: Target) -> None:
    """FlynetError, with the commands that give an emulation build, when `elf` is a board build."""
    elf = Path(elf)
    if not elf.is_file():
        raise FlynetError(f"firmware {elf} not found: build it first with `flynet-tiny build --target "
                          f"{target.name} --emulation` (or pass the firmware.elf it wrote)")
    if is_board_build(read_symbols(elf)):
        raise FlynetError(f"{elf} is a board build for {target.board}: QEMU {target.emulator['qemu_machine']} "
                          f"runs emulation builds; {emulation_commands(elf, target)}")


def _shown(path: Path) -> str:
    """A path as the user typed it best: relative to the current folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
