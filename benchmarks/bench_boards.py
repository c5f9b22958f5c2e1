"""FlyNet-h3 0.5x and MobileNetV3-Small 0.5x on both boards, through `flynet-tiny bench`'s path.

    python benchmarks/bench_boards.py [--data ../shared/datasets/fashion-mnist] [--input-size 32]
                                      [--stem-stride 1] [--inputs 5]

Each model: random init, PTQ on real images, QDQ ONNX, our converter (tests/codegen_models.py
exported_model). Each (model, board): emulation build, QEMU run with the counting plugin,
outputs checked bit-exact against the host build and TFLM (sim/bench.py bench_tflite). Prints
per inference: instructions, estimated ms, instructions per MAC, arena and flash (model +
kernels + runtime, test inputs excluded); a model that does not fit a board's flash gets the
linker's overflow instead.

MDW + Max-out fusion: in the registry FlyNet an activation and the ECA sit between every MDW
and its Max-out, so the fusion never applies there (the "fused MDW" column counts 0). It is
measured on MDW blocks alone (tests/codegen_models.py ModelMaker: MDW with h = 3 heads and its
Max-out, then a 1x1 conv, random int8 inputs) at FlyNet-h3-0.5-like shapes, built with the
fusion on and off (generate(fuse_mdw=False): a depthwise writing the C*h map, then Max-out):
instructions and estimated ms of the MDW work, and the arena.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from codegen_models import ModelMaker, exported_model  # noqa: E402

from flynet_tiny.data.model_inputs import random_inputs  # noqa: E402
from flynet_tiny.errors import CheckFailed  # noqa: E402
from flynet_tiny.reporting import format_table  # noqa: E402
from flynet_tiny.sim.bench import bench_tflite  # noqa: E402
from flynet_tiny.targets import load_target, target_names  # noqa: E402

MODELS = ("flynet-h3-0.5", "mobilenetv3-small-0.5")
# MDW blocks (input size, channels, kernel) like FlyNet-h3-0.5's at a 32x32 input, stem stride 1
MDW_BLOCKS = ((32, 8, 5), (16, 24, 5), (8, 48, 5), (16, 24, 3))
HEADS = 3


def mdw_block_model(size: int, channels: int, kernel: int) -> bytes:
    m = ModelMaker(size * channels + kernel, f"MDW h{HEADS} {kernel}x{kernel} on {size}x{size}x{channels}")
    x = m.input((1, size, size, channels))
    return m.build(x, m.conv(m.mdw_reshape_maxout(x, HEADS, k=kernel), channels, k=1))


def mdw_work(layers: list[dict]) -> tuple[float, float]:
    """(instructions, estimated ms) of the layers computing the MDW and its Max-out."""
    mdw = [l for l in layers if l["op"] in ("MDW_MAXOUT", "DEPTHWISE_CONV_2D", "MAXOUT")]
    return sum(l["instructions"] for l in mdw), sum(l["estimated_ms"] for l in mdw)


def fusion_rows(tmp: Path) -> list[list]:
    rows = []
    for size, channels, kernel in MDW_BLOCKS:
        model = mdw_block_model(size, channels, kernel)
        for name in target_names():
            target = load_target(name)
            results = {fuse: bench_tflite(model, target, random_inputs((1, size, size, channels), 1),
                                          tmp / f"mdw-{size}-{channels}-{kernel}-{name}-{fuse}", fuse_mdw=fuse)
                       for fuse in (True, False)}
            (fused_instr, fused_ms), (unfused_instr, unfused_ms) = (mdw_work(results[f].layers) for f in (True, False))
            rows.append([f"{size}x{size}x{channels} k{kernel}", name, f"{fused_instr:,.0f}", f"{unfused_instr:,.0f}",
                         f"{fused_ms:.3f}", f"{unfused_ms:.3f}", f"{unfused_ms / fused_ms:.2f}x",
                         f"{results[True].memory['arena_bytes']:,}", f"{results[False].memory['arena_bytes']:,}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"))
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--stem-stride", type=int, default=1)
    parser.add_argument("--inputs", type=int, default=5)
    parser.add_argument("--opt", choices=["size", "speed"], default="speed")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            print(f"exporting {model} at {args.input_size}x{args.input_size}, stem stride {args.stem_stride}",
                  file=sys.stderr)
            tflite, images = exported_model(model, args.data, input_size=args.input_size, stem_stride=args.stem_stride)
            for name in target_names():
                start = time.perf_counter()
                try:
                    result = bench_tflite(tflite, load_target(name), images[:args.inputs], Path(tmp) / f"{model}-{name}",
                                          opt=args.opt, model_name=model,
                                          progress=lambda m: print(f"  {m}", file=sys.stderr))
                except CheckFailed as exc:
                    if "does not fit" not in str(exc):
                        raise
                    overflow = re.search(r"region (\w+) overflowed by (\d+) bytes", str(exc))
                    rows.append([model, name, *["-"] * 7, f"{overflow[1]} overflowed by {int(overflow[2]):,} B", "-"])
                    continue
                t, m = result.totals, result.memory
                fused_count = sum(l["op"].endswith("MDW_MAXOUT") for l in result.layers)
                rows.append([model, name, fused_count, f"{t['macs']:,}", f"{t['instructions']:,.0f}",
                             f"{t['instr_per_mac']:.2f}", f"{t['estimated_ms']:.2f}", f"{t['inferences_per_s']:.1f}",
                             f"{m['arena_bytes']:,}", f"{m['flash_bytes']:,}", f"{time.perf_counter() - start:.0f}"])
        print("MDW blocks, fused vs unfused", file=sys.stderr)
        mdw_rows = fusion_rows(Path(tmp))
    print(f"per inference, layers only; {args.input_size}x{args.input_size} Fashion-MNIST inputs, stem stride "
          f"{args.stem_stride}, -O{'s' if args.opt == 'size' else '2'}; outputs bit-exact vs host and TFLM on "
          f"{args.inputs} real images; flash = emulation build less its test inputs")
    print(format_table(["model", "target", "fused MDW", "MACs", "instructions", "instr/MAC", "est ms",
                        "inf/s", "arena B", "flash B", "wall s"], rows, "llrrrrrrrrr"))
    print(f"\nMDW (h={HEADS}) + Max-out, fused vs unfused (depthwise writing the C*h map, then Max-out); "
          "MDW work only, per inference")
    print(format_table(["MDW input", "target", "fused instr", "unfused instr", "fused ms", "unfused ms",
                        "unfused/fused", "arena fused B", "arena unfused B"], mdw_rows, "llrrrrrrr"))


if __name__ == "__main__":
    main()
