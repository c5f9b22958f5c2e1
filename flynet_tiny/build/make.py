"""Run make on a written build folder and read the linker's answer: the ELF and region use, or one error line.

    result = build_firmware("out/bench", load_target("f446re"), ["bench.c"], include_dirs=[kernels],
                            opt="speed", emulation=True)
    result.elf, result.region_usage["FLASH"].used

The board support (startup, clocks, console) and the runtime (fn_print, the layer markers) are added
automatically; the sources provide `int main(void)`. `build_library` archives the sources into
libflynet.a for an existing STM32Cube project instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import CheckFailed, FlynetError
from ..processes import BUILD_TIMEOUT_S, run_tool
from ..targets import Target
from .toolchain import find_toolchain
from .elf import archive_members, open_elf, section_sizes, sections
from .folder import write_build_folder
from .options import ARTIFACT_NAME, BuildOptions, LIBRARY_NAME


@dataclass(frozen=True)
class RegionUsage:
    used: int
    size: int


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    elf: Path
    bin: Path
    hex: Path
    map: Path
    region_usage: dict[str, RegionUsage]
    emulation: bool


_OVERFLOW = re.compile(r"region `([^']+)' overflowed by (\d+) bytes")
_USAGE = re.compile(r"^\s*(\S+):\s+(\d+)\s+(B|KB|MB|GB)\s+(\d+)\s+(B|KB|MB|GB)\s+[\d.]+%", re.M)
_DIAGNOSTIC = re.compile(r"(^|: )(fatal )?error: |undefined reference")
_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def parse_memory_usage(linker_output: str) -> dict[str, RegionUsage]:
    """Per-region use from ld's --print-memory-usage table (ld prints exact multiples)."""
    return {
        m[1]: RegionUsage(int(m[2]) * _UNITS[m[3]], int(m[4]) * _UNITS[m[5]])
        for m in _USAGE.finditer(linker_output)
    }


def build_firmware(
    out_dir: Path | str,
    target: Target,
    sources: Sequence[Path | str],
    include_dirs: Sequence[Path | str] = (),
    *,
    opt: str = "size",
    lto: bool = False,
    emulation: bool = False,
    defines: Iterable[str] = (),
    board_support: bool = True,
    jobs: int = 2,
) -> BuildResult:
    """Write the Makefile and linker script into out_dir and run make.

    Raises CheckFailed naming the region and the overflow when the program does not fit,
    FlynetError with the compiler's first error line when it does not compile.
    """
    out_dir = Path(out_dir)
    outputs = [out_dir / f"{ARTIFACT_NAME}.{ext}" for ext in ("elf", "bin", "hex", "map")]
    options = BuildOptions(opt, lto, emulation, tuple(defines), board_support)
    log = _run_make(out_dir, target, sources, include_dirs, options, outputs, jobs)
    return BuildResult(out_dir, *outputs, region_usage=parse_memory_usage(log), emulation=emulation)


@dataclass(frozen=True)
class LibraryResult:
    out_dir: Path
    archive: Path
    text_bytes: int  # code + read-only data (flash)
    data_bytes: int  # initialised data (flash and RAM)
    bss_bytes: int  # zeroed data (RAM)


def build_library(
    out_dir: Path | str,
    target: Target,
    sources: Sequence[Path | str],
    include_dirs: Sequence[Path | str] = (),
    *,
    opt: str = "size",
    lto: bool = False,
    defines: Iterable[str] = (),
    jobs: int = 2,
) -> LibraryResult:
    """Library-only mode: compile the sources with the board's core flags into libflynet.a,
    with no startup, board or runtime code, for linking into an existing STM32Cube project."""
    out_dir = Path(out_dir)
    archive = out_dir / LIBRARY_NAME
    options = BuildOptions(opt, lto, False, tuple(defines), board_support=False, library=True)
    _run_make(out_dir, target, sources, include_dirs, options, [archive], jobs)
    text = data = bss = 0
    for name, member in archive_members(archive):
        with open_elf(f"{archive}({name})", member) as elf:
            sizes = section_sizes(sections(elf))
        text, data, bss = text + sizes.text, data + sizes.data, bss + sizes.bss
    return LibraryResult(out_dir, archive, text, data, bss)


def _run_make(out_dir: Path, target: Target, sources, include_dirs, options: BuildOptions,
              outputs: list[Path], jobs: int) -> str:
    """Write the Makefile, run make, and return its log; no stale or partial outputs remain."""
    toolchain = find_toolchain()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in outputs:
        stale.unlink(missing_ok=True)
    write_build_folder(out_dir, target, sources, include_dirs, options)
    try:
        proc = run_tool([toolchain.make, "-C", out_dir, f"-j{jobs}", "--no-print-directory", "all"],
                        timeout_s=BUILD_TIMEOUT_S, what=f"make in {out_dir}")
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise _build_error(log, target, out_dir)
    except BaseException:
        for stale in outputs:
            stale.unlink(missing_ok=True)
        raise
    return log


def _build_error(log: str, target: Target, out_dir: Path) -> FlynetError:
    overflow = _OVERFLOW.search(log)
    if overflow:
        region, excess = overflow[1], int(overflow[2])
        return CheckFailed(
            f"firmware does not fit {target.name}: region {region} overflowed by {excess} bytes; "
            f"use a smaller model, --opt size, or another placement"
        )
    for line in log.splitlines():
        if _DIAGNOSTIC.search(line):
            return FlynetError(f"firmware build failed in {out_dir}: {line.strip()}")
    last = log.strip().splitlines()[-1] if log.strip() else "no output"
    return FlynetError(f"firmware build failed in {out_dir}: {last}")
