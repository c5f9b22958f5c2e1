"""1x1 stride-1 convolutions both ways: the conv kernel (1x1 tiles or the 4-pixel block) and the row-pair fully
connected kernel over the pixels, per map size, in QEMU.

    PYTHONPATH=. python3 benchmarks/pointwise_paths.py [--target f446re]

One-layer CONV_2D models (per-channel int8 weights, ReLU-style output quantization, random input), each built
twice with flynet_tiny.codegen.fc_pairs.pointwise_prefers_pairs forced off and on, bit-exact against the host
build and TFLM (sim/bench.py). Prints instructions per MAC of both, which one the rule picks, and the scratch
each takes; the rule in fc_pairs.py comes from this table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from flynet_tiny.codegen import fc_pairs
from flynet_tiny.data.model_inputs import random_inputs
from flynet_tiny.reporting import format_table
from flynet_tiny.sim.bench import bench_tflite
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import TFLiteBuilder

# (h, w, in channels, out channels): MobileNet-style late stages, audio maps of one column, FlyNet-like 1x1s
SHAPES = [(1, 1, 256, 2), (2, 2, 288, 96), (3, 3, 128, 256), (3, 3, 256, 256), (4, 4, 64, 128), (4, 4, 128, 128),
          (4, 4, 256, 256), (6, 6, 64, 128), (6, 6, 128, 128), (7, 7, 48, 144), (8, 8, 32, 64), (8, 8, 64, 64),
          (8, 8, 96, 48), (12, 12, 32, 64), (12, 12, 64, 64), (13, 1, 48, 64), (25, 1, 32, 48), (25, 1, 48, 48),
          (16, 16, 32, 64), (24, 24, 16, 32)]


def pointwise_model(h: int, w: int, k: int, n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    b = TFLiteBuilder(f"1x1 conv {h}x{w}x{k} -> {n}")
    x_scale = 0.02
    xi = b.add_tensor("x", (1, h, w, k), "int8", scale=x_scale, zero_point=-128)
    w_scales = rng.uniform(0.002, 0.01, size=n).astype(np.float32)
    weights = rng.integers(-127, 128, size=(n, 1, 1, k)).astype(np.int8)
    wi = b.add_tensor("w", weights.shape, "int8", data=weights, scale=list(w_scales), zero_point=[0] * n)
    bias = rng.integers(-2000, 2000, size=n).astype(np.int32)
    bi = b.add_tensor("b", (n,), "int32", data=bias, scale=[float(np.float32(x_scale) * s) for s in w_scales],
                      zero_point=[0] * n)
    y_scale = x_scale * float(w_scales.mean()) * float(np.sqrt(k)) * 40
    yi = b.add_tensor("y", (1, h, w, n), "int8", scale=y_scale, zero_point=-128)
    b.add_operator("CONV_2D", [xi, wi, bi], [yi], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                   "fused_activation_function": "RELU"})
    b.set_io([xi], [yi])
    return b.build()


def measure(model: bytes, shape, target, folder: Path, pairs: bool) -> tuple[float, int]:
    rule = fc_pairs.pointwise_prefers_pairs
    fc_pairs.pointwise_prefers_pairs = lambda *_: pairs
    try:
        result = bench_tflite(model, target, random_inputs((1, *shape), 1), folder)
    finally:
        fc_pairs.pointwise_prefers_pairs = rule
    kinds = [layer.summary for layer in result.generated.layers]
    assert ("as " in kinds[0]) == pairs, kinds
    return result.layers[0]["instr_per_mac"], result.generated.layers[0].scratch_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="f446re")
    args = parser.parse_args()
    target = load_target(args.target)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pointwise-") as folder:
        for h, w, k, n in SHAPES:
            print(f"{h}x{w}x{k} -> {n}", file=sys.stderr, flush=True)
            model = pointwise_model(h, w, k, n)
            conv, conv_scratch = measure(model, (h, w, k), target, Path(folder) / f"{h}-{w}-{k}-{n}-conv", False)
            pairs, pairs_scratch = measure(model, (h, w, k), target, Path(folder) / f"{h}-{w}-{k}-{n}-pairs", True)
            chosen = "pairs" if fc_pairs.pointwise_prefers_pairs(h * w, k, n) else "conv"
            rows.append([f"{h}x{w}x{k} -> {n}", h * w, f"{conv:.3f}", f"{pairs:.3f}", f"{pairs / conv:.2f}", chosen,
                         conv_scratch, pairs_scratch])
    print(f"1x1 stride-1 CONV_2D on {args.target}, instructions per MAC (layer segment), -O2 DSP kernels")
    print(format_table(["map -> out", "pixels", "conv kernel", "row pairs", "pairs/conv", "rule picks",
                        "conv scratch B", "pairs scratch B"], rows, "lrrrrlrr"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
