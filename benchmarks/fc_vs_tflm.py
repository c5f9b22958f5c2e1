"""FULLY_CONNECTED alone: one-layer models through flynet-tiny and TFLite Micro + CMSIS-NN, both boards.

    PYTHONPATH=. python3 benchmarks/fc_vs_tflm.py [--targets f446re,f746zg] [--runner DIR]

Shapes (batches x in -> out): the MLPerf FC autoencoder's layers, hello_world's 1 -> 16 -> 16 -> 1, the
corpus' classifier heads (micro_speech 4000 -> 4, DS-CNN 64 -> 12, VWW 256 -> 2, EfficientNet 1280 -> 10,
two_inputs 8 -> 16 and 48 -> 32, ...), FlyNet's 288 -> 512 and batches over 1. Per-channel int8 weights
(-127..127), int8 activations quantized as after a ReLU, random inputs; ours must be bit-exact with the
host build and TFLM (vs_tflm.run_ours), TFLM's output is compared with its Python interpreter. Prints
instructions per layer (ours: the layer's counted segment; TFLM: the op's kernel), per MAC and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_tflm import TARGETS, run_ours, run_theirs, write_runner_inputs  # noqa: E402
from tflm_baseline import find_dir  # noqa: E402

from flynet_tiny.tflite.interpreters import random_samples  # noqa: E402
from flynet_tiny.errors import FlynetError  # noqa: E402
from flynet_tiny.reporting import format_table  # noqa: E402
from flynet_tiny.tflite import TFLiteBuilder  # noqa: E402

SHAPES = [(1, 640, 128), (1, 128, 128), (1, 128, 8), (1, 8, 128), (1, 128, 640), (1, 1, 16), (1, 16, 16),
          (1, 16, 1), (1, 4000, 4), (1, 64, 12), (1, 64, 10), (1, 256, 2), (1, 1280, 10), (1, 8, 16), (1, 48, 32),
          (1, 32, 4), (1, 288, 512), (1, 256, 256), (1, 1024, 128), (2, 37, 14), (4, 64, 32), (8, 128, 10)]


def fc_model(batches: int, n_in: int, n_out: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    b = TFLiteBuilder(f"fc {batches}x{n_in}->{n_out}")
    x_scale = 0.02
    xi = b.add_tensor("x", (batches, n_in), "int8", scale=x_scale, zero_point=-128)
    w_scales = rng.uniform(0.002, 0.01, size=n_out).astype(np.float32)
    w = rng.integers(-127, 128, size=(n_out, n_in)).astype(np.int8)
    wi = b.add_tensor("w", (n_out, n_in), "int8", data=w, scale=list(w_scales), zero_point=[0] * n_out)
    bias = rng.integers(-2000, 2000, size=n_out).astype(np.int32)
    bi = b.add_tensor("b", (n_out,), "int32", data=bias, scale=[float(np.float32(x_scale) * s) for s in w_scales],
                      zero_point=[0] * n_out)
    y_scale = x_scale * float(w_scales.mean()) * float(np.sqrt(n_in)) * 40
    yi = b.add_tensor("y", (batches, n_out), "int8", scale=y_scale, zero_point=-128)
    b.add_operator("FULLY_CONNECTED", [xi, wi, bi], [yi], {"fused_activation_function": "RELU"})
    b.set_io([xi], [yi])
    return b.build()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--runner", help="the TFLM + CMSIS-NN runner [default: shared/baselines/tflm-cmsis-nn]")
    args = parser.parse_args()
    from flynet_tiny.tflite.interpreters import run_tflm_batch

    runner = find_dir(args.runner, "shared/baselines/tflm-cmsis-nn", "the TFLM + CMSIS-NN runner")
    targets = args.targets.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="fc-vs-tflm-") as folder:
        for batches, n_in, n_out in SHAPES:
            name = f"{batches}x{n_in}->{n_out}"
            print(name, file=sys.stderr, flush=True)
            tmp = Path(folder) / name.replace(">", "")
            tmp.mkdir()
            model = fc_model(batches, n_in, n_out)
            (tmp / "model.tflite").write_bytes(model)
            sets = random_samples(model, 1)
            inputs = write_runner_inputs(sets, tmp)
            expected = run_tflm_batch(model, sets)
            macs = batches * n_in * n_out
            row = [name, macs]
            for target in targets:
                ours, layers, _ = run_ours(model, target, sets, tmp / target, name)
                theirs, run = run_theirs(runner, tmp / "model.tflite", target, inputs, expected)
                if not (ours.ok and theirs.ok and theirs.bit_exact.startswith("yes")):
                    row += ["-", "-", "-", "-", (ours.error or ours.bit_exact or theirs.error or theirs.bit_exact)[:60]]
                    continue
                mine = layers[0]["instructions"]
                tflm = sum(run.mean_op_instructions.values())
                row += [f"{mine:,.0f}", f"{mine / macs:.3f}", f"{tflm:,.0f}", f"{tflm / macs:.3f}", f"{mine / tflm:.2f}"]
            rows.append(row)
    headers = ["batches x in -> out", "MACs"]
    for target in targets:
        headers += [f"{target} ours", "/MAC", "TFLM", "/MAC", "ratio"]
    print("one FULLY_CONNECTED layer, instructions (ours: the layer; TFLM + CMSIS-NN -O2: the op's kernel)")
    print(format_table(headers, rows, "l" + "r" * (len(headers) - 1)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FlynetError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
