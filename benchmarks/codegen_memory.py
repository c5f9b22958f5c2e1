"""Generated C vs TFLite Micro, model by model: bit-exactness on real images, arena, flash.

    python benchmarks/codegen_memory.py --data ../shared/datasets/fashion-mnist [--samples 100]

Each registry model goes through the user-facing export pipeline (PTQ calibrated on the
dataset, our converter), then `generate_model_sources`; the generated C is compiled for the
host and run on `--samples` real test images next to TFLM's interpreter (mismatching bytes
must be 0), and linked into the F446RE benchmark firmware (Cortex-M4, --opt size: portable
kernels, gc-sections) for its flash (into the F746ZG's, Cortex-M7, when the weights do not fit
the F446RE: "code on").

Columns: our arena (activations and kernel scratch: the only RAM the model needs besides the
caller's input / output buffers; "arena" plans scratch for either build, i.e. the DSP paths of
--opt speed, "arena -Os" for the portable kernels of --opt size, the firmware measured here), TFLM's measured arena (head = activations and scratch, the
like-for-like number; total = head plus its persistent runtime data, what a TFLM firmware must
allocate), the kernel scratch summed over layers (it shares the arena with activations), and
flash from the linker map: weights (model_weights.c), runtime code = the kernels linked in plus
the generated glue (model.c: calls, parameter structs, layer names), against the .tflite
flatbuffer (TFLM's interpreter code comes on top of it and is not measured here). The firmware's
startup, UART runtime, benchmark main and libc are in neither.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.build.code_size import runtime_code_bytes
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.errors import CheckFailed
from flynet_tiny.pipeline.export import ExportRequest, export
from flynet_tiny.reporting import format_table
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import run_tflm_batch, tflm_arena_bytes
from flynet_tiny.data.datasets import load_dataset, normalize

MODELS = [("flynet-h3-0.5", 32), ("flynet-h3-0.5", 64), ("flynet-h3-0.25", 32), ("mobilenetv3-small-0.5", 32)]


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
    generated = generate_model_sources(model_bytes, work / label / "model")  # scratch for either build
    generate_s = time.perf_counter() - start
    portable = generate_model_sources(model_bytes, work / label / "model-size", dsp_kernels=False)  # --opt size
    host = HostModel(generated)
    expected = run_tflm_batch(model_bytes, [[x] for x in inputs])
    try:
        mismatching = sum(int(np.count_nonzero(host.invoke(x) != want[0])) for x, want in zip(inputs, expected))
    except CheckFailed as exc:  # a kernel refused a layer's parameters: say which, keep measuring memory
        print(f"[{label}] {exc}", file=sys.stderr)
        mismatching = "kernel error"
    scratch = sum(t.size for t in generated.plan.tensors if t.kind == "scratch")
    tflm = tflm_arena_bytes(model_bytes)
    try:
        firmware = build_model_firmware(portable, load_target("f446re"), inputs[:1], work / label / "f446re",
                                        opt="size")
        board = "f446re"
    except CheckFailed as exc:  # weights beyond the M4 board's flash: the code is measured on the M7 board
        print(f"[{label}] {exc}", file=sys.stderr)
        firmware = build_model_firmware(portable, load_target("f746zg"), inputs[:1], work / label / "f746zg",
                                        opt="size")
        board = "f746zg"
    kernels, glue = runtime_code_bytes(firmware.map, portable.name)
    return [
        label, len(generated.layers), len(inputs), mismatching,
        generated.arena_bytes, portable.arena_bytes, tflm["head"], f"{generated.arena_bytes / tflm['head']:.3f}",
        f"{portable.arena_bytes / tflm['head']:.3f}",
        tflm["total"], f"{generated.arena_bytes / tflm['total']:.3f}", scratch,
        generated.weight_bytes, board, kernels + glue, kernels, glue, len(model_bytes), f"{generate_s:.1f}",
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
    headers = ["model", "layers", "inputs", "mismatch B", "arena", "arena -Os", "TFLM head", "ours/head",
               "-Os/head", "TFLM total", "ours/total", "scratch", "weights", "code on", "runtime code", "kernels",
               "glue", ".tflite", "gen s"]
    print(format_table(headers, rows, "lrrrrrrrrrrrrlrrrrr"))
    return 1 if any(row[3] != 0 for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
