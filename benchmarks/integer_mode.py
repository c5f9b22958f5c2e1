"""PyTorch integer mode and fake quant vs TFLite Micro: top-1 agreement, max |int8 diff|, accuracy, time.

    python benchmarks/integer_mode.py --data ../shared/datasets/fashion-mnist [--samples 10000]

The bundled FlyNet plus random-init registry models calibrated on real training images (their
accuracy means nothing; agreement does). Each model is exported (QDQ ONNX -> our converter) and run
in TFLM's interpreter on the first --samples test images.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from flynet_tiny.convert.onnx_export import export_qdq_onnx
from flynet_tiny.convert.to_tflite import convert_qdq_onnx
from flynet_tiny.data.model_inputs import int8_model_inputs, quantize, to_nhwc
from flynet_tiny.verify.agreement import TFLM, TORCH, TORCH_INT, compare
from flynet_tiny.models import build_model
from flynet_tiny.quant import load_quantized, quantize_model
from flynet_tiny.quant.evaluate import bundled_model_path, calibration_batches
from flynet_tiny.reporting import format_table
from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import run_tflm_batch
from flynet_tiny.data.datasets import load_dataset, normalize

MODELS = ["flynet-h3-0.5", "mobilenetv3-small-0.5"]


def timed_outputs(qmodel, images: torch.Tensor, batch: int = 256) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    with torch.no_grad():
        y = torch.cat([qmodel(images[i:i + batch]) for i in range(0, len(images), batch)])
    return y.numpy(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Fashion-MNIST IDX folder")
    parser.add_argument("--samples", type=int, default=1000, help="test images")
    parser.add_argument("--calib-samples", type=int, default=256, help="training images for random-init models")
    args = parser.parse_args()
    test = load_dataset(Path(args.data), "test", input_size=32, in_channels=1)
    images, labels = normalize(test.images[:args.samples]), test.labels[:args.samples].numpy()

    models = [("bundled", load_quantized(bundled_model_path())[0])]
    train = load_dataset(Path(args.data), "train", input_size=32, in_channels=1)
    for name in MODELS:
        torch.manual_seed(0)
        model = build_model(name, num_classes=10, input_size=32, in_channels=1)
        models.append((f"{name} (random)", quantize_model(model, calibration_batches(train, args.calib_samples),
                                                          num_samples=args.calib_samples, progress=False)))
    rows = []
    for label, qmodel in models:
        print(f"{label}: export, TFLM on {len(images)} images ...", file=sys.stderr)
        qmodel.eval()
        with tempfile.TemporaryDirectory() as work:
            export_qdq_onnx(qmodel, Path(work) / "model_qdq.onnx")
            model_bytes = convert_qdq_onnx(Path(work) / "model_qdq.onnx")
        out = read_tflite(model_bytes)
        out = out.tensors[out.outputs[0]]
        scale, zero_point = float(out.scale[0]), int(out.zero_point[0])
        start = time.perf_counter()
        feeds = [[x] for x in int8_model_inputs(model_bytes, images.numpy())]
        tflm = np.concatenate([y[0] for y in run_tflm_batch(model_bytes, feeds)]).astype(np.int64)
        tflm_seconds = time.perf_counter() - start
        fake, fake_seconds = timed_outputs(qmodel, images)
        with qmodel.integer_mode():
            integer, integer_seconds = timed_outputs(qmodel, images)
        grids = {TORCH: quantize(to_nhwc(fake), scale, zero_point), TORCH_INT: quantize(to_nhwc(integer), scale,
                                                                                        zero_point)}
        for mode, seconds in ((TORCH_INT, integer_seconds), (TORCH, fake_seconds)):
            pair = compare(mode, TFLM, grids[mode], tflm, scale, zero_point)
            accuracy = float(np.mean(grids[mode].reshape(len(labels), -1).argmax(1) == labels))
            rows.append([label, mode, f"{pair.top1_agreement * 100:.2f}%", pair.max_int8_diff,
                         f"{accuracy * 100:.2f}%", f"{seconds:.1f}"])
        tflm_accuracy = float(np.mean(tflm.reshape(len(labels), -1).argmax(1) == labels))
        rows.append([label, TFLM, "", "", f"{tflm_accuracy * 100:.2f}%", f"{tflm_seconds:.1f}"])
    print(f"\n{len(images)} Fashion-MNIST test images")
    print(format_table(["model", "runtime", "top-1 agree w/ TFLM", "max |int8 diff|", "top-1 accuracy", "seconds"],
                       rows, "llrrrr"))


if __name__ == "__main__":
    main()
