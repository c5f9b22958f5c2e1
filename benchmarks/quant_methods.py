"""PTQ calibration methods side by side: fp32 vs int8 (fake-quant) top-1 of one trained checkpoint.

    python benchmarks/quant_methods.py CHECKPOINT --data ../shared/datasets/fashion-mnist [--calib-samples 512] [--limit N]

For each method (minmax, percentile, mse) the checkpoint is BN-folded and calibrated on the
same seeded random training subset, then evaluated on the first --limit test images. Columns:
int8 top-1, its difference to fp32 in points, the share of test images whose int8 prediction
equals the fp32 one, and the calibration time relative to minmax.
"""

from __future__ import annotations

import argparse
import time

import torch

from flynet_tiny.quant import METHODS, quantize_model
from flynet_tiny.quant.evaluate import _load_split, calibration_batches, load_model_file
from flynet_tiny.reporting import format_table
from flynet_tiny.data.datasets import iterate_batches


@torch.no_grad()
def predictions(model: torch.nn.Module, dataset) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x).argmax(1) for x, _ in iterate_batches(dataset, torch.arange(len(dataset)), 256)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", required=True)
    parser.add_argument("--calib-samples", type=int, default=512)
    parser.add_argument("--limit", type=int, default=2000, help="test images evaluated")
    args = parser.parse_args()

    model, _, data_info = load_model_file(args.checkpoint)
    if model is None:
        raise SystemExit("pass a float training checkpoint, not a quantized file")
    test_set = _load_split(args.data, "test", data_info).subset(args.limit)
    train_set = _load_split(args.data, "train", data_info)
    labels = test_set.labels
    float_pred = predictions(model, test_set)
    float_top1 = float((float_pred == labels).float().mean())
    rows, base_seconds = [["fp32", f"{100 * float_top1:.2f}%", "-", "100.00%", "-"]], None
    for method in METHODS:
        start = time.perf_counter()
        qmodel = quantize_model(model, calibration_batches(train_set, args.calib_samples), method,
                                args.calib_samples, progress=False)
        seconds = time.perf_counter() - start
        base_seconds = base_seconds or seconds
        pred = predictions(qmodel, test_set)
        top1 = float((pred == labels).float().mean())
        rows.append([f"int8 {method}", f"{100 * top1:.2f}%", f"{100 * (top1 - float_top1):+.2f}",
                     f"{100 * float((pred == float_pred).float().mean()):.2f}%", f"{seconds / base_seconds:.2f}x"])
    print(f"{args.checkpoint}: {len(test_set)} test images, {args.calib_samples} calibration images")
    print(format_table(["model", "top-1", "vs fp32 (pt)", "same prediction as fp32", "calibration time vs minmax"],
                       rows, "lrrrr"))


if __name__ == "__main__":
    main()
