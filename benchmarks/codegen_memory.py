"""Generated C vs TFLite Micro, model by model: bit-exactness on real images, arena, flash.

    python benchmarks/codegen_memory.py --data ../shared/datasets/fashion-mnist [--samples 100]

Each registry model goes through the user-facing export pipeline (PTQ calibrated on the
dataset, our converter), then `generate_model_sources`; the generated C is compiled for the
host and run on `--samples` real test images next to TFLM's interpreter (mismatching bytes
must be 0), and compiled for the F446RE (Cortex-M4, -Os) for its flash size.

Columns: our arena (activations, kernel scratch and the stripe buffers of fused PAD + conv
layers: the only RAM the model needs besides the caller's input / output buffers), TFLM's
measured arena (head = activations and scratch, the like-for-like number; total = head plus
its persistent runtime data, what a TFLM firmware must allocate), the bytes of all scratch
and stripe buffers summed over layers (they share the arena with activations), and flash: our weights + code (model.c and every kernel) against
the .tflite flatbuffer (TFLM's interpreter code comes on top of it and is not measured here).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from flynet_tiny.codegen.build import build_library
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_kernels import kernel_include_dir, kernel_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.errors import CheckFailed
from flynet_tiny.export.pipeline import ExportRequest, export
from flynet_tiny.reporting import format_table
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import run_tflm_batch, tflm_arena_bytes
from flynet_tiny.train.data import load_dataset, normalize

MODELS = [("flynet-h3-0.5", 32), ("flynet-h3-0.5", 64), ("mobilenetv3-small-0.5", 32)]


def exported_tflite(name: str, input_size: int, data: Path, cache: Path) -> bytes:
    """The export pipeline's int8 model, kept in `cache` between runs (the export is the slow part)."""
    out = cache / f"{name}-{input_size}"
    if (out / "model_int8.tflite").is_file():
        return (out / "model_int8.tflite").read_bytes()
    export(ExportRequest(out=out, model=name, calib_data=data, input_size=input_size, verify=False,
                         calib_samples=128))
    return (out / "model_int8.tflite").read_bytes()


def real_inputs(model_bytes: bytes, data: Path, samples: int) -> list[np.ndarray]:
    graph = read_tflite(model_bytes)
    tensor = graph.tensors[graph.inputs[0]]
    _, size, _, channels = tensor.shape
    images = normalize(load_dataset(data, "test", input_size=size, in_channels=channels).images[:samples])
    nhwc = images.permute(0, 2, 3, 1).numpy()
    scale, zero_point = float(tensor.scale[0]), int(tensor.zero_point[0])
    q = np.clip(np.round(nhwc / scale) + zero_point, -128, 127).astype(np.int8)
    return [x[None] for x in q]


def measure(label: str, model_bytes: bytes, inputs: list[np.ndarray], work: Path) -> list:
    start = time.perf_counter()
    generated = generate_model_sources(model_bytes, work / label / "model")
    generate_s = time.perf_counter() - start
    host = HostModel(generated)
    expected = run_tflm_batch(model_bytes, [[x] for x in inputs])
    try:
        mismatching = sum(int(np.count_nonzero(host.invoke(x) != want[0])) for x, want in zip(inputs, expected))
    except CheckFailed as exc:  # a kernel refused a layer's parameters: say which, keep measuring memory
        print(f"[{label}] {exc}", file=sys.stderr)
        mismatching = "kernel error"
    scratch = sum(t.size for t in generated.plan.tensors if t.kind == "scratch")
    tflm = tflm_arena_bytes(model_bytes)
    library = build_library(work / label / "lib", load_target("f446re"), [*generated.sources, *kernel_sources()],
                            [generated.out_dir, kernel_include_dir()], opt="size")
    # The arena is zero-initialised data in .fn_arena, which the firmware's linker script places
    # NOLOAD in SRAM: it is not flash, so it comes off the library's data.
    flash = library.text_bytes + library.data_bytes - generated.arena_bytes
    return [
        label, len(generated.layers), len(inputs), mismatching,
        generated.arena_bytes, tflm["head"], f"{generated.arena_bytes / tflm['head']:.3f}",
        tflm["total"], f"{generated.arena_bytes / tflm['total']:.3f}", scratch,
        generated.weight_bytes, flash - generated.weight_bytes, flash, len(model_bytes),
        f"{generate_s:.1f}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" /
                        "datasets" / "fashion-mnist")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "codegen-bench",
                        help="Where exported models are kept between runs.")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="codegen-bench-") as folder:
        work = Path(folder)
        for name, size in MODELS:
            label = f"{name} @{size}"
            print(f"[{label}] export, generate, compile, run {args.samples} images ...", file=sys.stderr, flush=True)
            model_bytes = exported_tflite(name, size, args.data, args.cache)
            rows.append(measure(label.replace(" @", "-"), model_bytes, real_inputs(model_bytes, args.data, args.samples),
                                work))
    headers = ["model", "layers", "inputs", "mismatch B", "arena", "TFLM head", "ours/head", "TFLM total",
               "ours/total", "scratch+stripes", "weights", "code", "flash", ".tflite", "gen s"]
    print(format_table(headers, rows, "lrrrrrrrrrrrrrr"))
    return 1 if any(row[3] != 0 for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
