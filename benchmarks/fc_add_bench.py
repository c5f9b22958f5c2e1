"""Instructions of FULLY_CONNECTED (per MAC) and ADD (per element) in QEMU: -O2 DSP build vs -Os portable C.

One-layer models at FlyNet's shapes (the classifier's two FCs, residual ADDs of its block maps), each
built both ways and run with the QEMU instruction-counting plugin (exact, deterministic counts).

    python benchmarks/fc_add_bench.py                 # f446re (Cortex-M4)
    python benchmarks/fc_add_bench.py --target f746zg
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from flynet_tiny.codegen.build import build_model_firmware, random_inputs
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.reporting import format_table
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import TFLiteBuilder

FC_CASES = [(288, 512), (512, 10)]
ADD_CASES = [(1, 16, 16, 24), (1, 7, 7, 48), (1, 4, 4, 96)]


def fc_model(n_in: int, n_out: int) -> bytes:
    rng = np.random.default_rng(0)
    b = TFLiteBuilder("fc")
    xi = b.add_tensor("x", (1, n_in), "int8", scale=0.05, zero_point=-10)
    wi = b.add_tensor("w", (n_out, n_in), "int8", data=rng.integers(-127, 128, size=(n_out, n_in)).astype(np.int8),
                      scale=0.01, zero_point=0)
    bi = b.add_tensor("b", (n_out,), "int32", data=rng.integers(-3000, 3000, size=n_out).astype(np.int32),
                      scale=float(np.float32(0.05) * np.float32(0.01)), zero_point=0)
    yi = b.add_tensor("y", (1, n_out), "int8", scale=0.2, zero_point=5)
    b.add_operator("FULLY_CONNECTED", [xi, wi, bi], [yi], {"fused_activation_function": "NONE"})
    b.set_io([xi], [yi])
    return b.build()


def add_model(shape) -> bytes:
    """x + x, then that sum + x: the second ADD has two input scales, as FlyNet's residual adds do."""
    b = TFLiteBuilder("add")
    xi = b.add_tensor("x", shape, "int8", scale=0.05, zero_point=3)
    ti = b.add_tensor("t", shape, "int8", scale=0.08, zero_point=-4)
    yi = b.add_tensor("y", shape, "int8", scale=0.1, zero_point=2)
    b.add_operator("ADD", [xi, xi], [ti], {"fused_activation_function": "NONE"})
    b.add_operator("ADD", [ti, xi], [yi], {"fused_activation_function": "NONE"})
    b.set_io([xi], [yi])
    return b.build()


def layer_counts(model: bytes, in_shape, layer: int, target_name: str, out: Path) -> dict[str, int]:
    """The layer's instructions in the -O2 DSP and the -Os portable build (outputs checked equal)."""
    target = load_target(target_name)
    counts, outputs = {}, set()
    generated = generate_model_sources(model, out / "model")
    for opt in ("speed", "size"):
        firmware = build_model_firmware(generated, target, random_inputs(in_shape, 1), out / opt, opt=opt,
                                        emulation=True)
        run = run_qemu(firmware.elf, target, timeout_s=300)
        run.raise_for_failure()
        counts[opt] = run.layers[layer].instructions
        outputs.add(run.output(0))
    if len(outputs) != 1:
        raise SystemExit("-O2 DSP and -Os portable outputs differ: the numbers would be meaningless")
    return counts


def table(target_name: str) -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="fc-add-bench-") as tmp:
        cases = [(f"FC {n_in}->{n_out}", fc_model(n_in, n_out), (1, n_in), 0, n_in * n_out, "MAC")
                 for n_in, n_out in FC_CASES]
        cases += [("ADD " + "x".join(map(str, shape[1:])), add_model(shape), shape, 1, int(np.prod(shape)), "elem")
                  for shape in ADD_CASES]
        for i, (name, model, in_shape, layer, units, unit) in enumerate(cases):
            print(f"{name}: building and running --opt speed and size for {target_name} ...", file=sys.stderr)
            counts = layer_counts(model, in_shape, layer, target_name, Path(tmp) / str(i))
            rows.append([name, f"{units:,} {unit}", f"{counts['speed']:,}", f"{counts['size']:,}",
                         f"{counts['speed'] / units:.2f}", f"{counts['size'] / units:.2f}",
                         f"{counts['size'] / counts['speed']:.2f}x"])
    headers = ["layer", "work", "instr -O2 SIMD", "instr -Os C", "SIMD instr/unit", "C instr/unit", "C / SIMD"]
    return format_table(headers, rows, "lrrrrrr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="f446re")
    args = parser.parse_args()
    print(f"FULLY_CONNECTED and ADD on {args.target} (QEMU plugin counts, whole layer):")
    print(table(args.target))


if __name__ == "__main__":
    main()
