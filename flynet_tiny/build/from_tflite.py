"""`flynet-tiny build`: a .tflite (or an export folder) to firmware or libflynet.a, and its summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from ..tflite.interpreters import random_samples
from ..errors import FlynetError
from ..reporting import atomic_write_text
from ..targets import Target
from .bench_firmware import build_model_firmware
from .make import BuildResult, LibraryResult, build_library
from .options import BUILD_RECORD, uses_dsp_kernels


def find_tflite(model: Path | str) -> Path:
    """The int8 model of an export folder (model_int8.tflite), or a .tflite file itself."""
    path = Path(model)
    if path.is_dir():
        path = path / "model_int8.tflite"
        if not path.is_file():
            raise FlynetError(f"no model_int8.tflite in {model}: run `flynet-tiny export --out {model}` first")
    elif not path.is_file():
        raise FlynetError(f"model {model} not found: pass an export folder or a .tflite file")
    return path


def build_from_tflite(
    model: Path | str,
    target: Target,
    out_dir: Path | str,
    *,
    opt: str = "size",
    lto: bool = False,
    emulation: bool = False,
    library: bool = False,
    n_inputs: int = 1,
    inputs: Sequence | None = None,
    progress=lambda message: None,
) -> BuildResult | LibraryResult:
    """Generate C for an int8 .tflite into out_dir/model and build the benchmark firmware
    (or, with library=True, libflynet.a). The firmware embeds `inputs` (samples: one array per
    model input, or one array for a one-input model), or else `n_inputs` random samples (seed 0),
    so a board or QEMU run prints reproducible output bytes."""
    from ..codegen.generate import generate_model_sources
    from ..codegen.host_kernels import kernel_include_dir, kernel_sources

    if n_inputs < 1:
        raise FlynetError(f"--inputs must be at least 1, got {n_inputs}")
    tflite = find_tflite(model)
    tflite_bytes = tflite.read_bytes()
    out_dir = Path(out_dir)
    # Generating validates the model: progress starts once it is known good (bad input: one error line alone).
    generated = generate_model_sources(tflite_bytes, out_dir / "model", dsp_kernels=uses_dsp_kernels(opt))
    progress(f"generated C for {tflite}")
    progress(f"compiling {len(generated.layers)} layers + kernels for {target.board} ({'library' if library else 'firmware'})")
    # The model relative to the folder: both may move together (an export's staging folder is renamed).
    atomic_write_text(out_dir / BUILD_RECORD, json.dumps({
        "model": os.path.relpath(Path(model).resolve(), out_dir.resolve()), "target": target.name, "opt": opt,
        "lto": lto, "emulation": emulation, "library": library}, indent=2) + "\n")
    if library:
        return build_library(out_dir, target, [*generated.sources, *kernel_sources()],
                             [generated.out_dir, kernel_include_dir()], opt=opt, lto=lto)
    if inputs is None:
        inputs = random_samples(tflite_bytes, n_inputs)
    return build_model_firmware(generated, target, inputs, out_dir, opt=opt, lto=lto, emulation=emulation)


def build_summary(result: BuildResult | LibraryResult) -> dict:
    """Machine-readable outputs and sizes of a build."""
    if isinstance(result, LibraryResult):
        return {"archive": str(result.archive), "text_bytes": result.text_bytes,
                "data_bytes": result.data_bytes, "bss_bytes": result.bss_bytes}
    return {
        "elf": str(result.elf), "bin": str(result.bin), "hex": str(result.hex), "map": str(result.map),
        "emulation": result.emulation,
        "regions": {name: {"used": u.used, "size": u.size} for name, u in result.region_usage.items()},
    }


def build_table(result: BuildResult | LibraryResult) -> str:
    from ..reporting import format_table

    if isinstance(result, LibraryResult):
        return (format_table(["section", "bytes"], [["text", result.text_bytes], ["data", result.data_bytes],
                                                     ["bss", result.bss_bytes]]) + f"\n{result.archive}")
    rows = [[name, u.used, u.size, f"{100 * u.used / u.size:.1f}%"] for name, u in result.region_usage.items()]
    files = ", ".join(p.name for p in (result.elf, result.bin, result.hex, result.map))
    return format_table(["region", "used", "size", "use"], rows, "lrrr") + f"\n{result.out_dir}: {files}"
