"""`flynet-tiny fit` without the command line: pick the source, estimate, read the ELF."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FlynetError
from ..targets import Target
from .elf_sizes import ElfUsage, elf_usage
from .estimate import FitEstimate, estimate_from_tflite
from .model_tflite import ModelSpec, model_tflite_bytes


@dataclass
class FitRequest:
    target: Target
    model: ModelSpec | None = None
    tflite: Path | None = None
    elf: Path | None = None
    opt: str = "size"
    margin: float = 0.0
    tflm: bool = True


def _test_input_count(elf: Path) -> int:
    """Inputs the benchmark firmware beside `elf` embeds (1, the build's default, if unknown)."""
    config = elf.parent / "bench" / "fn_bench_config.h"
    if config.is_file():
        m = re.search(r"#define FN_TEST_INPUT_COUNT (\d+)", config.read_text())
        if m:
            return int(m[1])
    return 1


def estimate_model(spec: ModelSpec, target: Target, opt: str = "size", n_inputs: int = 1, tflm: bool = True,
                   progress=lambda message: None) -> FitEstimate:
    """Pre-build estimate for a registry model: a sizing export (random weights), then the C generator."""
    progress(f"exporting {spec.describe()} to int8 TFLite for sizing ...")
    tflite = model_tflite_bytes(spec)
    return estimate_from_tflite(tflite, target, opt, n_inputs, spec.describe(), tflm, progress)


def run_fit(request: FitRequest, progress=lambda message: None) -> tuple[FitEstimate | None, ElfUsage | None]:
    if request.model is not None and request.tflite is not None:
        raise FlynetError("pass a MODEL name or --tflite FILE, not both")
    if request.model is None and request.tflite is None and request.elf is None:
        raise FlynetError("nothing to check: pass a MODEL name (e.g. flynet-h3-0.5), --tflite FILE or --elf FILE")
    if not 0.0 <= request.margin < 1.0:
        raise FlynetError(f"--margin {request.margin} out of range: use a fraction such as 0.1 for 10%")
    elf = elf_usage(request.elf, request.target) if request.elf is not None else None
    n_inputs = _test_input_count(request.elf) if request.elf is not None else 1
    estimate = None
    if request.model is not None:
        estimate = estimate_model(request.model, request.target, request.opt, n_inputs, request.tflm, progress)
    elif request.tflite is not None:
        path = Path(request.tflite)
        if path.is_dir():
            path = path / "model_int8.tflite"
        if not path.is_file():
            raise FlynetError(f"{request.tflite} does not exist: pass the .tflite (or export folder) of `flynet-tiny export`")
        estimate = estimate_from_tflite(path.read_bytes(), request.target, request.opt, n_inputs, path.name,
                                        request.tflm, progress)
    return estimate, elf
