"""Instructions per MAC of the int8 kernels in QEMU, DSP SIMD path vs portable C, on FlyNet layer shapes.

Counts come from the QEMU instruction-counting plugin (exact, deterministic) around
each kernel call. The fused ECA block (the converter's op chain), FULLY_CONNECTED and ADD run as
one-layer models, -O2 DSP build against the -Os portable one, and so do the elementwise, activation,
reduction, data-movement and resize layers of the corpus models (tests/corpus: shapes from
activations_*, tensor_ops_*, segmentation_head_*; per element of the layer's output, or of its input
for reductions). Also prints the SRAM the fused MDW + Max-out saves per FlyNet layer:
its output is C bytes per pixel where depthwise(h) + max-out needs a C*h map.

The corpus table (issues 13 and 14) takes the conv, depthwise, pooling and transpose-conv layers of the
compatibility corpus (stems, 1-D audio layers, micro_speech's 10x8, global pools) with the issue's target per
row, and the same layer as a one-op model on TFLite Micro + CMSIS-NN in the same QEMU (the measuring
instrument in ../shared/baselines/tflm-cmsis-nn; its column stays empty where that folder is absent).

    python benchmarks/kernels_bench.py                      # f446re (Cortex-M4), 224x224 input
    python benchmarks/kernels_bench.py --target f746zg --resolution 96
    python benchmarks/kernels_bench.py --only corpus --target f746zg
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.data.model_inputs import random_inputs
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.reporting import format_table
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import TFLiteBuilder

# Test helpers shared with tests/ and tests/kernels: the probe firmware, the ECA op-chain model, the op models.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "kernels"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from eca_chain import eca_chain_model  # noqa: E402
from kernel_probe import ProbeCase, build_probe, run_probe  # noqa: E402
from oneop_models import conv_model, transpose_conv_model, unary_model  # noqa: E402
from ops_models import OpsMaker  # noqa: E402

CMSIS_RUNNER = Path(__file__).resolve().parent.parent.parent / "shared" / "baselines" / "tflm-cmsis-nn" / "run.py"

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

# Corpus layers (tests/corpus) with issue 13's speed targets (instructions per MAC on the M4; None: beat
# CMSIS-NN), at reduced spatial size where the maps would not fit the probe's buffers (the F746ZG's 64 KB
# DTCM holds them). Fused RELU / RELU6 as the
# models have them: the probe's output offset is -3, so RELU is (-3, 127) and RELU6 (-3, 100).
RELU, RELU6 = (-3, 127), (-3, 100)
CORPUS_CASES = [
    (ProbeCase("VWW stem conv 3x3 s2 3->8 (48x48)", "conv", (1, 48, 48, 3), 3, out_channels=8, stride=2, act=RELU6), 2.5),
    (ProbeCase("ResNet-8 stem conv 3x3 s1 3->16", "conv", (1, 32, 32, 3), 3, out_channels=16, act=RELU), 2.5),
    (ProbeCase("MobileNetV2 stem conv 3x3 s2 3->16 (48x48)", "conv", (1, 48, 48, 3), 3, out_channels=16, stride=2,
               act=RELU6), 2.5),
    (ProbeCase("RGB conv 3x3 s2 3->32", "conv", (1, 32, 32, 3), 3, out_channels=32, stride=2, act=RELU6), 2.5),
    (ProbeCase("DS-CNN stem conv 10x4 s2 1->64", "conv", (1, 49, 10, 1), 10, kernel_w=4, out_channels=64, stride=2,
               act=RELU), None),
    (ProbeCase("audio conv 1x40 1->32", "conv", (1, 49, 40, 1), 1, kernel_w=40, out_channels=32, padding="VALID",
               act=RELU), None),
    (ProbeCase("ResNet-8 conv 3x3 16->16 (16x16)", "conv", (1, 16, 16, 16), 3, out_channels=16, act=RELU), None),
    (ProbeCase("DS-CNN conv 1x1 64->64 (25x5)", "conv", (1, 25, 5, 64), 1, out_channels=64, act=RELU), None),
    (ProbeCase("micro_speech depthwise 10x8 s2 h8", "depthwise", (1, 49, 40, 1), 10, kernel_w=8, heads=8, stride=2,
               act=RELU), 3.0),
    (ProbeCase("audio depthwise 9x1 s2 (49x1x32)", "depthwise", (1, 49, 1, 32), 9, kernel_w=1, stride=2, act=RELU), 3.0),
    (ProbeCase("audio depthwise 9x1 s1 (25x1x48)", "depthwise", (1, 25, 1, 48), 9, kernel_w=1, act=RELU), 3.0),
    (ProbeCase("audio depthwise 5x1 s2 (25x1x48)", "depthwise", (1, 25, 1, 48), 5, kernel_w=1, stride=2, act=RELU), 3.0),
    (ProbeCase("audio depthwise 5x1 s1 (13x1x64)", "depthwise", (1, 13, 1, 64), 5, kernel_w=1, act=RELU), 3.0),
    (ProbeCase("DS-CNN depthwise 3x3 (25x5x64)", "depthwise", (1, 25, 5, 64), 3, act=RELU), None),
    (ProbeCase("dilated depthwise 3x3 d2x3 (24x24x8)", "depthwise", (1, 24, 24, 8), 3, dilation=2, dilation_w=3,
               act=RELU), None),
    (ProbeCase("ResNet-8 global avg pool 8x8x64", "avgpool", (1, 8, 8, 64), 8, stride=8, padding="VALID"), None),
    (ProbeCase("VWW / person det. global avg pool 3x3x256", "avgpool", (1, 3, 3, 256), 3, stride=3, padding="VALID"),
     None),
    (ProbeCase("DS-CNN avg pool 24x5 on 25x5x64", "avgpool", (1, 25, 5, 64), 24, kernel_w=5, stride=24, stride_w=5,
               padding="VALID"), None),
    (ProbeCase("avg pool 2x2 s2 (16x16x32)", "avgpool", (1, 16, 16, 32), 2, stride=2, padding="VALID"), None),
    (ProbeCase("max pool 2x2 s2 (16x16x32)", "maxpool", (1, 16, 16, 32), 2, stride=2, padding="VALID"), None),
    (ProbeCase("max pool 3x3 s3 (24x24x16)", "maxpool", (1, 24, 24, 16), 3, stride=3, padding="VALID"), None),
    (ProbeCase("transpose conv 3x3 s2 6x6x64->16", "transpose", (1, 6, 6, 64), 3, out_channels=16, stride=2), None),
]

# FlyNet-h3 0.5x blocks: (expanded channels e, block stride), from docs/architecture.md.
FLYNET_H3_05X_BLOCKS = [(8, 2), (40, 2), (48, 1), (48, 2), (120, 1), (120, 1), (64, 1), (72, 1), (144, 2),
                        (288, 1), (288, 1)]
HEADS = 3

# FlyNet's ECA blocks (k = 7): map, softmax heads (1: logistic).
ECA_CASES = [((1, 8, 8, 144), 1), ((1, 8, 8, 144), 3), ((1, 4, 4, 360), 3), ((1, 2, 2, 864), 3)]
# FlyNet's classifier FCs (in, out) and residual ADDs of its block maps.
FC_CASES = [(288, 512), (512, 10)]
ADD_CASES = [(1, 16, 16, 24), (1, 7, 7, 48), (1, 4, 4, 96)]


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
    generated = generate_model_sources(model, out / "model")  # scratch planned for either build
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


def model_cases() -> list[tuple[str, bytes, tuple[int, ...], int, int, str]]:
    """(name, one-layer model, input shape, the measured layer's index, work units, unit)."""
    cases = []
    for shape, heads in ECA_CASES:
        name = "ECA " + "x".join(map(str, shape[1:])) + (f" softmax h={heads}" if heads > 1 else " logistic")
        cases.append((name, eca_model(shape, heads), shape, 0, int(np.prod(shape)), "elem"))
    cases += [(f"FC {n_in}->{n_out}", fc_model(n_in, n_out), (1, n_in), 0, n_in * n_out, "MAC")
              for n_in, n_out in FC_CASES]
    cases += [("ADD " + "x".join(map(str, shape[1:])), add_model(shape), shape, 1, int(np.prod(shape)), "elem")
              for shape in ADD_CASES]
    return cases


def _op_case(name: str, in_shape, build, layer: int = 0, per_input: bool = False):
    """(name, model, input shape, measured layer, elements, "elem") for a model `build(m, x)` makes."""
    m = OpsMaker(0, name)
    x = m.input(in_shape)
    y = build(m, x)
    model = m.build(x, y)
    units = int(np.prod(in_shape if per_input else m.shape(y)))
    return name, model, tuple(in_shape), layer, units, "elem"


def ops_cases() -> list[tuple[str, bytes, tuple[int, ...], int, int, str]]:
    """The corpus models' elementwise, activation, reduction, data-movement and resize layers."""
    return [
        _op_case("SUB per-channel constant 32x32x3", (1, 32, 32, 3), lambda m, x: m.binary("SUB", x, m.constant((3,), x))),
        _op_case("MUL by [9,9,1] gate 9x9x16", (1, 9, 9, 16),
                 lambda m, x: m.binary("MUL", x, m.reduce("REDUCE_MAX", x, [3])), layer=1),
        _op_case("MAXIMUM of split halves 8x8x16", (1, 8, 8, 32),
                 lambda m, x: m.binary("MAXIMUM", *m.split(x, 3, (16, 16))), layer=1),
        _op_case("PRELU alpha [1,1,16] 16x16x16", (1, 16, 16, 16), lambda m, x: m.prelu(x, (1, 1, 16))),
        _op_case("TANH table 16x16x16", (1, 16, 16, 16), lambda m, x: m.tanh(x)),
        _op_case("RELU6 clamp 8x8x24", (1, 8, 8, 24), lambda m, x: m.activation("RELU6", x)),
        _op_case("MEAN over C 9x9x16", (1, 9, 9, 16), lambda m, x: m.reduce("MEAN", x, [-1]), per_input=True),
        _op_case("REDUCE_MAX over C 9x9x16", (1, 9, 9, 16), lambda m, x: m.reduce("REDUCE_MAX", x, [-1]),
                 per_input=True),
        _op_case("MEAN over H, W 8x8x24", (1, 8, 8, 24), lambda m, x: m.reduce("MEAN", x, [1, 2], keep_dims=False),
                 per_input=True),
        _op_case("TRANSPOSE (0,2,1,3) 18x18x16", (1, 18, 18, 16), lambda m, x: m.transpose(x, (0, 2, 1, 3))),
        _op_case("SPLIT_V 4+8+4 of 9x9x16", (1, 9, 9, 16),
                 lambda m, x: m.concat(m.split(x, 3, (4, 8, 4))[::2], 3), per_input=True),
        _op_case("RESIZE_NEAREST 16x16x32 -> 32x32", (1, 16, 16, 32),
                 lambda m, x: m.resize("RESIZE_NEAREST_NEIGHBOR", x, (32, 32), half_pixel_centers=True)),
        _op_case("RESIZE_BILINEAR 16x16x16 -> 32x32", (1, 16, 16, 16),  # fits the F746ZG's DTCM too
                 lambda m, x: m.resize("RESIZE_BILINEAR", x, (32, 32), half_pixel_centers=True)),
    ]


def model_layer_table(target_name: str, cases) -> str:
    rows = []
    with tempfile.TemporaryDirectory(prefix="layer-bench-") as tmp:
        for i, (name, model, in_shape, layer, units, unit) in enumerate(cases):
            print(f"{name}: building and running --opt speed and size for {target_name} ...", file=sys.stderr)
            counts = layer_counts(model, in_shape, layer, target_name, Path(tmp) / str(i))
            rows.append([name, f"{units:,} {unit}", f"{counts['speed']:,}", f"{counts['size']:,}",
                         f"{counts['speed'] / units:.2f}", f"{counts['size'] / units:.2f}",
                         f"{counts['size'] / counts['speed']:.2f}x"])
    headers = ["layer", "work", "instr -O2 SIMD", "instr -Os C", "SIMD instr/unit", "C instr/unit", "C / SIMD"]
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


def one_op_model(case: ProbeCase) -> bytes:
    """The probe case as a one-op .tflite (random weights and quantization, the case's geometry)."""
    rng = np.random.default_rng(0)
    if case.kind in ("avgpool", "maxpool"):
        n, oh, ow, c = case.out_shape
        options = {"padding": case.padding, "stride_h": case.strides[0], "stride_w": case.strides[1],
                   "filter_height": case.kernel_hw[0], "filter_width": case.kernel_hw[1],
                   "fused_activation_function": "NONE"}
        op = "AVERAGE_POOL_2D" if case.kind == "avgpool" else "MAX_POOL_2D"
        return unary_model(op, case.in_shape, (0.05, 3), (0.05, 3), options, out_shape=(n, oh, ow, c))
    activation = {(-128, 127): "NONE", RELU: "RELU", RELU6: "RELU6"}[case.act]
    if case.kind == "transpose":
        return transpose_conv_model(rng, case.in_shape, case.kernel_hw, case.out_channels, case.strides,
                                    case.padding, activation=activation)[0]
    return conv_model(rng, case.kind, case.in_shape, case.kernel_hw, case.out_channels, case.strides, case.padding,
                      heads=case.heads, activation=activation, dilation=case.dilations)[0]


def cmsis_instructions(model: bytes, target_name: str) -> int | None:
    """The op's instructions on TFLM + CMSIS-NN in QEMU (first inference), None without the runner."""
    if not CMSIS_RUNNER.is_file():
        return None
    with tempfile.TemporaryDirectory(prefix="cmsis-") as tmp:
        path = Path(tmp) / "layer.tflite"
        path.write_bytes(model)
        result = subprocess.run([sys.executable, str(CMSIS_RUNNER), str(path), "--target", target_name, "--json"],
                                capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"TFLM + CMSIS-NN runner failed: {result.stderr.strip()[-200:]}")
    return int(json.loads(result.stdout)["per_inference"][0]["ops"][0]["instructions"])


def corpus_table(target_name: str) -> str:
    target = load_target(target_name)
    cases = [case for case, _ in CORPUS_CASES]
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp:
        runs = {}
        for portable in (False, True):
            label = "portable" if portable else "dsp"
            print(f"building and running the corpus layers, {label} build, for {target_name} ...", file=sys.stderr)
            runs[label] = run_probe(build_probe(Path(tmp) / label, target, cases, portable).elf, target, cases,
                                    timeout_s=600)
    if runs["dsp"].outputs != runs["portable"].outputs:
        raise SystemExit("SIMD and portable outputs differ: the benchmark numbers would be meaningless")
    rows = []
    for i, (case, goal) in enumerate(CORPUS_CASES):
        print(f"{case.name}: TFLM + CMSIS-NN ...", file=sys.stderr)
        cmsis = cmsis_instructions(one_op_model(case), target_name)
        dsp, portable = runs["dsp"].instructions[i], runs["portable"].instructions[i]
        unit = "tap" if case.kind in ("avgpool", "maxpool") else "MAC"
        rows.append([case.name, f"{case.macs:,} {unit}s", f"{dsp:,}", f"{dsp / case.macs:.2f}",
                     f"{portable / case.macs:.2f}", "-" if cmsis is None else f"{cmsis / case.macs:.2f}",
                     "-" if cmsis is None else f"{dsp / cmsis:.2f}", "-" if goal is None else f"<= {goal}"])
    headers = ["layer", "work", "instr SIMD", "SIMD per unit", "C per unit", "CMSIS-NN per unit", "SIMD / CMSIS-NN",
               "target"]
    return format_table(headers, rows, "lrrrrrrr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="f446re")
    parser.add_argument("--resolution", type=int, default=224, help="network input size for the SRAM table")
    parser.add_argument("--only", choices=["corpus", "ops"],
                        help="print only one table: the corpus conv / pool layers, or the corpus elementwise, "
                             "activation, reduction, data-movement and resize layers")
    args = parser.parse_args()
    if args.only != "ops":
        print(f"Corpus conv / depthwise / pooling / transpose-conv layers on {args.target} (QEMU plugin counts, -O2 "
              "DSP and portable C; TFLM + CMSIS-NN on the same layer as a one-op model, same QEMU):")
        print(corpus_table(args.target))
        print()
    if args.only != "corpus":
        print(f"Elementwise, activation, reduction, data-movement and resize layers of the corpus models on "
              f"{args.target} (QEMU plugin counts, whole layer; per element):")
        print(model_layer_table(args.target, ops_cases()))
        print()
    if args.only:
        return
    print(f"Instructions per MAC on {args.target} (QEMU plugin counts, -O2):")
    print(instruction_table(args.target))
    print()
    print(f"Fused ECA, FULLY_CONNECTED and ADD as one-layer models on {args.target} (QEMU plugin counts, "
          "whole layer; per element or MAC):")
    print(model_layer_table(args.target, model_cases()))
    print()
    print(f"SRAM for the MDW output of FlyNet-h3 0.5x at {args.resolution}x{args.resolution} (h = {HEADS}):")
    print(sram_table(args.resolution))


if __name__ == "__main__":
    main()
