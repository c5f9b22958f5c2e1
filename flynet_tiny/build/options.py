"""Build options: --opt (size: -Os and the portable kernels; speed: -O2 and the DSP paths), reserved stack / heap,
and the names of the build's products.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FlynetError


OPT_FLAGS = {"size": "-Os", "speed": "-O2"}

# A size build takes the kernels' portable C paths: the DSP paths (im2col conv blocks, the 3x3
# depthwise / MDW assembly per plane pitch) roughly double the kernels' flash for their speed.
PORTABLE_DEFINE = "FN_PORTABLE_ONLY"
OPT_DEFINES = {"size": (PORTABLE_DEFINE,), "speed": ()}


def check_opt(opt: str) -> None:
    if opt not in OPT_FLAGS:
        raise FlynetError(f"unknown --opt {opt!r}: choose one of {', '.join(OPT_FLAGS)}")


def uses_dsp_kernels(opt: str) -> bool:
    """Whether a build at this --opt runs the kernels' DSP paths (and so needs their scratch)."""
    check_opt(opt)
    return PORTABLE_DEFINE not in OPT_DEFINES[opt]


ARTIFACT_NAME = "firmware"
LIBRARY_NAME = "libflynet.a"
BUILD_RECORD = "build.json"  # how `flynet-tiny build` made the folder: model, target, opt, emulation
DEFAULT_STACK_BYTES = 8 * 1024
DEFAULT_HEAP_BYTES = 4 * 1024  # newlib stdio buffers and vsnprintf's small allocations


@dataclass(frozen=True)
class BuildOptions:
    opt: str = "size"  # "size" (-Os, portable kernels) or "speed" (-O2, the DSP kernel paths)
    lto: bool = False
    emulation: bool = False  # link for the target's QEMU machine instead of the board
    defines: tuple[str, ...] = ()  # extra -D values, e.g. ("USE_SIMD=1",)
    board_support: bool = True  # add startup, board and runtime sources
    library: bool = False  # archive the objects (lib<name>.a) instead of linking firmware
