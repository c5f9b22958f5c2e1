"""Instructions per MAC of the int8 kernels in QEMU, DSP SIMD path vs portable C, on FlyNet layer shapes.

Counts come from the QEMU instruction-counting plugin (exact, deterministic) around
each kernel call. The fused ECA block runs as a one-layer model (the converter's op chain),
-O2 DSP build against the -Os portable one. Also prints the SRAM the fused MDW + Max-out saves per FlyNet layer:
its output is C bytes per pixel where depthwise(h) + max-out needs a C*h map.

    python benchmarks/kernels_bench.py                      # f446re (Cortex-M4), 224x224 input
    python benchmarks/kernels_bench.py --target f746zg --resolution 96
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from flynet_tiny.codegen.build import build_model_firmware, random_inputs
from flynet_tiny.codegen.eca_chain import eca_chain_model
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.kernel_probe import ProbeCase, build_probe, run_probe
from flynet_tiny.reporting import format_table
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target

# Typical FlyNet-h3 0.5x layers (docs/architecture.md), at reduced spatial size so each
# case fits the emulated SRAM; instructions per MAC do not depend on H x W beyond edges.
CASES = [
    ProbeCase("stem conv 3x3 s2 3->8", "conv", (1, 32, 32, 3), 3, out_channels=8, stride=2),
    ProbeCase("conv 1x1 16x16x32->64", "conv", (1, 16, 16, 32), 1, out_channels=64),
    ProbeCase("conv 1x1 8x8x96->48", "conv", (1, 8, 8, 96), 1, out_channels=48),
    ProbeCase("expand conv 1x1 24->72", "conv", (1, 14, 14, 24), 1, out_channels=72),
    ProbeCase("head conv 1x1 7x7x48->144", "conv", (1, 7, 7, 48), 1, out_channels=144),
    ProbeCase("depthwise 3x3 s1 16x16x48", "depthwise", (1, 16, 16, 48), 3),
    ProbeCase("depthwise 3x3 s2 16x16x48", "depthwise", (1, 16, 16, 48), 3, stride=2),
    ProbeCase("depthwise 3x3 s1 32x32x12", "depthwise", (1, 32, 32, 12), 3),
    ProbeCase("depthwise 5x5 s1 c24", "depthwise", (1, 14, 14, 24), 5),
    ProbeCase("MDW 3x3 h3 + max-out 16x16x48", "mdw", (1, 16, 16, 48), 3, heads=3),
    # FlyNet's last blocks: odd 7x7 maps, and the stride-2 MDW into them.
    ProbeCase("depthwise 3x3 s1 7x7x48", "depthwise", (1, 7, 7, 48), 3),
    ProbeCase("depthwise 3x3 s1 4x4x48", "depthwise", (1, 4, 4, 48), 3),
    ProbeCase("MDW 3x3 h3 s2 + max-out 14x14x48", "mdw", (1, 14, 14, 48), 3, heads=3, stride=2),
    ProbeCase("MDW 5x5 h3 + max-out c24", "mdw", (1, 14, 14, 24), 5, heads=3),
    # FlyNet's 5x5 depthwise layers (DEPTHWISE_CONV_2D with 3 heads at stride 1 and 2, 1 head at stride 2).
    ProbeCase("depthwise 5x5 h3 s1 8x8x48", "depthwise", (1, 8, 8, 48), 5, heads=3),
    ProbeCase("depthwise 5x5 h3 s2 16x16x40", "depthwise", (1, 16, 16, 40), 5, heads=3, stride=2),
    ProbeCase("depthwise 5x5 h1 s2 16x16x40", "depthwise", (1, 16, 16, 40), 5, stride=2),
]

# FlyNet-h3 0.5x blocks: (expanded channels e, block stride), from docs/architecture.md.
FLYNET_H3_05X_BLOCKS = [(8, 2), (40, 2), (48, 1), (48, 2), (120, 1), (120, 1), (64, 1), (72, 1), (144, 2),
                        (288, 1), (288, 1)]
HEADS = 3

# FlyNet's ECA blocks (k = 7): map, softmax heads (1: logistic).
ECA_CASES = [((1, 8, 8, 144), 1), ((1, 8, 8, 144), 3), ((1, 4, 4, 360), 3), ((1, 2, 2, 864), 3)]


def instruction_table(target_name: str) -> str:
    target = load_target(target_name)
    with tempfile.TemporaryDirectory(prefix="kernels-bench-") as tmp:
        runs = {}
        for portable in (False, True):
            label = "portable" if portable else "dsp"
            print(f"building and running the {label} build for {target_name} ...", file=sys.stderr)
            build = build_probe(Path(tmp) / label, target, CASES, portable)
            runs[label] = run_probe(build.elf, target, CASES, timeout_s=600)
    if runs["dsp"].outputs != runs["portable"].outputs:
        raise SystemExit("SIMD and portable outputs differ: the benchmark numbers would be meaningless")
    rows = []
    for i, case in enumerate(CASES):
        dsp, portable = runs["dsp"].instructions[i], runs["portable"].instructions[i]
        rows.append([case.name, f"{case.macs:,}", f"{dsp:,}", f"{portable:,}", f"{dsp / case.macs:.2f}",
                     f"{portable / case.macs:.2f}", f"{portable / dsp:.2f}x"])
    headers = ["layer", "MACs", "instr SIMD", "instr C", "SIMD instr/MAC", "C instr/MAC", "C / SIMD"]
    return format_table(headers, rows, "lrrrrrr")


def eca_model(shape, heads: int) -> bytes:
    """One ECA block with fixed FlyNet-like quantization (the counts repeat run to run)."""
    kernel = np.random.default_rng(0).integers(-127, 128, size=14).astype(np.int8)
    return eca_chain_model(shape, (0.05, -10), (0.03, 5), (0.005, -100), kernel, 0.01, 100, (0.1, 0), (0.05, -10),
                           heads > 1, heads, 1.0)


def eca_table(target_name: str) -> str:
    target = load_target(target_name)
    rows = []
    with tempfile.TemporaryDirectory(prefix="eca-bench-") as tmp:
        for shape, heads in ECA_CASES:
            name = "x".join(map(str, shape[1:])) + (f" softmax h={heads}" if heads > 1 else " logistic")
            model, inputs = eca_model(shape, heads), random_inputs(shape, 1)
            counts, outputs = {}, set()
            for opt in ("speed", "size"):
                print(f"ECA {name}: building and running --opt {opt} for {target_name} ...", file=sys.stderr)
                out = Path(tmp) / f"{name.replace(' ', '_')}_{opt}"
                generated = generate_model_sources(model, out / "model")
                firmware = build_model_firmware(generated, target, inputs, out, opt=opt, emulation=True)
                run = run_qemu(firmware.elf, target, timeout_s=300)
                run.raise_for_failure()
                counts[opt], _ = run.layers[0].instructions, outputs.add(run.output(0))
            if len(outputs) != 1:
                raise SystemExit("ECA: -O2 DSP and -Os portable outputs differ: the numbers would be meaningless")
            elements = int(np.prod(shape))
            rows.append([f"ECA {name}", f"{elements:,}", f"{counts['speed']:,}", f"{counts['size']:,}",
                         f"{counts['speed'] / elements:.1f}", f"{counts['size'] / elements:.1f}",
                         f"{counts['size'] / counts['speed']:.2f}x"])
    headers = ["layer", "elements", "instr -O2 SIMD", "instr -Os C", "SIMD instr/elem", "C instr/elem", "C / SIMD"]
    return format_table(headers, rows, "lrrrrrr")


def sram_table(resolution: int) -> str:
    rows, size = [], resolution // 2  # after the stride-2 stem
    total_saved = 0
    for i, (e, stride) in enumerate(FLYNET_H3_05X_BLOCKS, start=1):
        size = (size + stride - 1) // stride
        unfused, fused = e * HEADS * size * size, e * size * size
        total_saved += unfused - fused
        rows.append([str(i), f"{size}x{size}x{e}", f"{unfused:,}", f"{fused:,}", f"{unfused - fused:,}",
                     f"{unfused / fused:.1f}x"])
    rows.append(["all", "", "", "", f"{total_saved:,}", ""])
    headers = ["block", "MDW output", "depthwise(h)+max bytes", "fused bytes", "saved", "ratio"]
    return format_table(headers, rows, "lrrrrr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="f446re")
    parser.add_argument("--resolution", type=int, default=224, help="network input size for the SRAM table")
    args = parser.parse_args()
    print(f"Instructions per MAC on {args.target} (QEMU plugin counts, -O2):")
    print(instruction_table(args.target))
    print()
    print(f"Fused ECA blocks on {args.target} (QEMU plugin counts, whole layer):")
    print(eca_table(args.target))
    print()
    print(f"SRAM for the MDW output of FlyNet-h3 0.5x at {args.resolution}x{args.resolution} (h = {HEADS}):")
    print(sram_table(args.resolution))


if __name__ == "__main__":
    main()
