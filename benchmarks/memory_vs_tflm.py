"""Arena + I/O buffers of the generated C against TFLite Micro's arena, per corpus model, before and after
the overlap planner (outputs written over their inputs, the layer order, the inputs and outputs in the arena).

    python benchmarks/memory_vs_tflm.py [--models NAME ...]

For each model of tests/corpus/ the code generator takes, the RAM the model needs: our arena plus
the caller's input and output buffers (unless they live in the arena), against TFLM's
`arena_used_bytes` for the same .tflite (its Python interpreter's total: head = tensors and scratch, tail
= its runtime data; the input and output tensors are inside). "before": the converter's layer order,
the inputs and outputs in the caller's buffers, outputs written over inputs only in place (what the
planner did before); "speed" plans the scratch of --opt speed's DSP paths (either build), "size" the portable
kernels' of --opt size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from flynet_tiny.codegen.generate import generate_model_sources  # noqa: E402
from flynet_tiny.errors import FlynetError  # noqa: E402
from flynet_tiny.reporting import format_table  # noqa: E402
from flynet_tiny.tflite.interpreters import tflm_arena_bytes  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"


def ram(model: bytes, **options) -> tuple[int, object]:
    with tempfile.TemporaryDirectory() as folder:
        generated = generate_model_sources(model, folder, **options)
    return generated.ram_bytes, generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", help="corpus model names (default: every int8 model)")
    args = parser.parse_args()
    names = args.models or sorted(p.stem for p in CORPUS.glob("*.tflite"))
    rows, skipped = [], []
    for name in names:
        model = (CORPUS / f"{name}.tflite").read_bytes()
        try:
            speed, generated = ram(model)
        except FlynetError as exc:
            skipped.append(f"{name}: {str(exc)[:110]}")
            continue
        tflm = tflm_arena_bytes(model)["total"]
        before, _ = ram(model, reorder_layers=False, input_placement="caller", output_placement="caller",
                        overlap_outputs=False)
        size, _ = ram(model, dsp_kernels=False)
        moved = generated.plan.overlaps
        rows.append([name, tflm, before, f"{before / tflm:.2f}", speed,
                     f"{speed / tflm:.2f}", size, f"{size / tflm:.2f}", len(moved),
                     "yes" if generated.inputs_in_arena else "no", "yes" if generated.outputs_in_arena else "no"])
        print(f"{name}: done", file=sys.stderr)
    print(format_table(["model", "TFLM arena_used", "before", "ratio", "speed build", "ratio", "size build", "ratio",
                        "overlaps", "inputs in arena", "outputs in arena"], rows, "lrrrrrrrrll"))
    for line in skipped:
        print(f"not generated: {line}")


if __name__ == "__main__":
    main()
