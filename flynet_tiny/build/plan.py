"""What a build folder holds and how it is built: the board support and runtime sources, the flags and
defines for the target's core, every path relative to the folder (the sources are copied in: sources.py).
Makefile, CMakeLists.txt and README.md are rendered from this one plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import FlynetError
from ..resources import firmware_dir
from ..targets import Target
from .options import ARTIFACT_NAME, BuildOptions, LIBRARY_NAME, OPT_DEFINES, OPT_FLAGS, check_opt
from .sources import copy_sources


def board_sources(target: Target, emulation: bool) -> tuple[list[Path], list[Path]]:
    """(sources, include dirs) of the board support and runtime for this build."""
    firmware = firmware_dir()
    board = firmware / "boards" / ("qemu" if emulation else target.name)
    board_file = board / ("board_qemu.c" if emulation else f"board_{target.name}.c")
    if not board_file.is_file():
        raise FlynetError(f"no board support for {target.name}: {board_file} is missing")
    sources = [
        firmware / "boards" / "common" / "startup.c",
        board_file,
        firmware / "runtime" / "fn_runtime.c",
        firmware / "runtime" / "fn_markers.S",
    ]
    if not emulation:
        sources.append(firmware / "boards" / "common" / "fn_newlib_console.c")
    return sources, [firmware / "boards" / "common", firmware / "runtime"]


def _board_defines(target: Target, emulation: bool) -> list[str]:
    defines = [
        f"FN_CLOCK_HZ={target.clock_hz}u",
        f"FN_HSE_HZ={target.hse_hz}u",
        f"FN_FLASH_WAIT_STATES={target.flash_wait_states}u",
        f"FN_UART_BAUD={int(target.uart['baud'])}u",
    ]
    if emulation:
        defines.append("FN_EMULATION=1")
    return defines


def _no_space(path: Path) -> str:
    text = path.as_posix()
    if " " in text:
        raise FlynetError(f"path {text!r} contains a space, which make cannot handle: move or rename it")
    return text


@dataclass(frozen=True)
class BuildPlan:
    """Everything the build files say, with every path relative to the build folder."""

    target: Target
    options: BuildOptions
    sources: tuple[str, ...]
    objects: tuple[str, ...]
    includes: tuple[str, ...]
    defines: tuple[str, ...]
    opt_flags: str
    link_flags: str  # beyond the core and optimisation flags; empty for a library

    @property
    def machine(self) -> str:
        return self.target.emulator["qemu_machine"] if self.options.emulation else self.target.board

    @property
    def kind(self) -> str:
        if self.options.library:
            return "library for an existing project"
        return "QEMU emulation" if self.options.emulation else "real board"

    @property
    def products(self) -> tuple[str, ...]:
        if self.options.library:
            return (LIBRARY_NAME,)
        return tuple(f"{ARTIFACT_NAME}.{ext}" for ext in ("elf", "bin", "hex"))


COMPILE_FLAGS = "-std=gnu11 -g -Wall -Wextra -Werror -ffunction-sections -fdata-sections"


def plan_build(out_dir: Path, target: Target, sources: Sequence[Path | str], include_dirs: Sequence[Path | str] = (),
               options: BuildOptions = BuildOptions()) -> BuildPlan:
    """Check the inputs, copy the sources into out_dir (see sources.py) and say how to build them."""
    opt, emulation, defines = options.opt, options.emulation, options.defines
    check_opt(opt)
    given = {d.split("=", 1)[0] for d in defines}
    defines = (*defines, *(d for d in OPT_DEFINES[opt] if d not in given))
    all_sources = [Path(s) for s in sources]
    all_includes = [Path(i) for i in include_dirs]
    for source in all_sources:
        if not source.is_file():
            raise FlynetError(f"source file {source} not found: check the path")
        if source.suffix not in (".c", ".S", ".s"):
            raise FlynetError(f"source file {source} is not C or assembly (.c, .S, .s)")
    if options.library:
        # The runtime header turns the layer hooks into no-ops; nothing else is added.
        all_includes = [firmware_dir("runtime")] + all_includes
        defines = (*defines, "FN_LIBRARY_ONLY=1")
    elif options.board_support:
        extra_sources, extra_includes = board_sources(target, emulation)
        all_sources = extra_sources + all_sources
        all_includes = extra_includes + all_includes
    placed_sources, placed_includes = copy_sources(out_dir, all_sources, all_includes)
    objects = tuple(f"obj/{i:02d}_{s.stem}.o" for i, s in enumerate(placed_sources))
    specs = "--specs=nano.specs " + ("--specs=rdimon.specs" if emulation else "--specs=nosys.specs")
    link_flags = "" if options.library else (
        f"-nostartfiles {specs} -T {ARTIFACT_NAME}.ld -Wl,--gc-sections -Wl,-Map={ARTIFACT_NAME}.map "
        "-Wl,--print-memory-usage")
    return BuildPlan(target, options, tuple(_no_space(s) for s in placed_sources), objects,
                     tuple(_no_space(i) for i in placed_includes),
                     (*_board_defines(target, emulation), *defines),
                     OPT_FLAGS[opt] + (" -flto" if options.lto else ""), link_flags)
