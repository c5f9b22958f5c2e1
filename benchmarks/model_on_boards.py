"""A model on both boards in QEMU: size, exact instructions and estimated latency,
with the kernels' DSP (SIMD) path against their portable C path.

    python benchmarks/model_on_boards.py EXPORT_DIR_OR_TFLITE [--opt speed] [--inputs 1]

Builds the emulation firmware (generated model + kernels + benchmark main) four times,
runs each in QEMU with the counting plugin, and prints one row per board and kernel path.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.build.from_tflite import find_tflite
from flynet_tiny.data.model_inputs import random_inputs
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.reporting import format_table
from flynet_tiny.sim.latency import estimate_latency
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.sim.report import weights_in_flash
from flynet_tiny.targets import load_target, target_names

PATHS = {"dsp": [], "portable": ["FN_PORTABLE_ONLY=1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="export folder (model_int8.tflite) or a .tflite file")
    parser.add_argument("--opt", choices=["size", "speed"], default="speed")
    parser.add_argument("--inputs", type=int, default=1)
    args = parser.parse_args()
    tflite = find_tflite(args.model)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        generated = generate_model_sources(tflite.read_bytes(), Path(tmp) / "model")
        inputs = random_inputs(generated.input_shape, args.inputs)
        for name in target_names():
            target = load_target(name)
            portable_ms = None
            for path in ("portable", "dsp"):
                build = build_model_firmware(generated, target, inputs, Path(tmp) / f"{name}-{path}", opt=args.opt,
                                             emulation=True, defines=PATHS[path])
                result = run_qemu(build.elf, target, timeout_s=600)
                result.raise_for_failure()
                counted = [layer for layer in result.layers if layer.instructions is not None]
                classes = {c: sum(l.classes[c] for l in counted) / args.inputs for c in counted[0].classes}
                flash = weights_in_flash(build.elf, target)
                streamed = sum(flash.get(layer.index, 0) for layer in counted) // args.inputs
                estimate = estimate_latency(classes, target, streamed)
                portable_ms = portable_ms or estimate.ms
                ram = sum(u.used for n, u in build.region_usage.items() if n != target.placement["code"])
                rows.append([name, path, build.region_usage[target.placement["code"]].used, ram,
                             f"{sum(classes.values()):,.0f}", f"{classes['mul_dsp']:,.0f}", f"{estimate.ms:.2f}",
                             f"{portable_ms / estimate.ms:.2f}x"])
    print(f"{tflite}: {len(generated.layers)} layers, arena {generated.arena_bytes} B, weights {generated.weight_bytes} B, "
          f"-O{'s' if args.opt == 'size' else '2'}; per inference, layers only, weights read once from flash")
    print(format_table(["target", "kernels", "flash B", "ram B", "instructions", "mul/dsp", "est ms", "vs portable"],
                       rows, "llrrrrrr"))


if __name__ == "__main__":
    main()
