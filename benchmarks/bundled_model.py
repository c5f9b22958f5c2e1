"""Accuracy of trained runs on the full test set: fp32, int8 PTQ (each calibration method), int8 QAT,
with parameters and training speed, one row per run, side by side.

    python benchmarks/bundled_model.py --data ../shared/datasets/fashion-mnist \\
        --run flynet=runs/fmnist-h3-0.5 --run mobilenetv3=runs/fmnist-mnv3-0.5

Each run folder is a `flynet-tiny train` output (checkpoint.pt, metrics.json); the final epoch's
checkpoint is used (best.pt can come from mid-annealing, at a softmax-ECA temperature above 1). A
`qat/quantized.pt` inside it (`flynet-tiny train --qat --from RUN/checkpoint.pt --out RUN/qat`)
adds the QAT column.
Columns in points are differences to the run's own fp32 top-1. img/s is the mean training speed
over the run's epochs as measured by the trainer (both cores under torchrun, this machine).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flynet_tiny.quant import METHODS, quantize_model
from flynet_tiny.quant.evaluate import _load_split, calibration_batches, load_model_file
from flynet_tiny.reporting import format_table
from flynet_tiny.train.trainer import count_parameters, evaluate

CALIB_SAMPLES = 512


def run_row(label: str, run: Path, data: str) -> list:
    model, _, info = load_model_file(run / "checkpoint.pt")
    test_set = _load_split(data, "test", info)
    train_set = _load_split(data, "train", info)
    _, fp32 = evaluate(model, test_set)
    ptq = {}
    for method in METHODS:
        qmodel = quantize_model(model, calibration_batches(train_set, CALIB_SAMPLES), method, CALIB_SAMPLES,
                                progress=False)
        ptq[method] = evaluate(qmodel, test_set)[1]
    qat_file = run / "qat" / "quantized.pt"
    qat = evaluate(load_model_file(qat_file)[1], test_set)[1] if qat_file.is_file() else None
    metrics = json.loads((run / "metrics.json").read_text())
    speed = sum(e["images_per_second"] for e in metrics["epochs"]) / len(metrics["epochs"])
    best_method = max(ptq, key=ptq.get)
    return [label, model.config.name, f"{count_parameters(model):,}", len(metrics["epochs"]), f"{100 * fp32:.2f}%",
            *[f"{100 * ptq[m]:.2f}% ({100 * (ptq[m] - fp32):+.2f})" for m in METHODS], best_method,
            f"{100 * qat:.2f}% ({100 * (qat - fp32):+.2f})" if qat is not None else "-", f"{speed:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=DIR")
    args = parser.parse_args()
    rows = []
    for item in args.run:
        label, _, folder = item.partition("=")
        rows.append(run_row(label, Path(folder), args.data))
    headers = ["run", "model", "params", "epochs", "fp32", *[f"PTQ {m}" for m in METHODS], "best PTQ", "QAT",
               "train img/s"]
    print(format_table(headers, rows, "llrrr" + "r" * len(METHODS) + "lrr"))


if __name__ == "__main__":
    main()
