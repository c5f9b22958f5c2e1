"""Export wall time per stage and file sizes for the bundled FlyNet and registry models.

    python benchmarks/export_models.py --data ../shared/datasets/fashion-mnist [--samples 100]

Random-init models are calibrated on real images (their accuracy means nothing; sizes, times and
TFLM-vs-LiteRT agreement do). The bundled checkpoint is included when it exists.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from flynet_tiny.errors import FlynetError
from flynet_tiny.pipeline.export import ExportRequest, export
from flynet_tiny.quant.evaluate import bundled_model_path
from flynet_tiny.reporting import format_table

MODELS = ["flynet-h3-0.5", "flynet-h3-0.8", "mobilenetv3-small-0.5"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Fashion-MNIST IDX folder (calibration + verification)")
    parser.add_argument("--samples", type=int, default=100, help="test images to verify on")
    parser.add_argument("--calib-samples", type=int, default=256)
    args = parser.parse_args()

    requests: list[tuple[str, dict]] = []
    try:
        requests.append(("bundled", {"checkpoint": bundled_model_path()}))
    except FlynetError as exc:
        print(f"(bundled model skipped: {exc})")
    requests += [(name, {"model": name}) for name in MODELS]

    reports = []
    with tempfile.TemporaryDirectory() as work:
        for label, source in requests:
            request = ExportRequest(out=Path(work) / label, calib_data=Path(args.data), verify_samples=args.samples,
                                    calib_samples=args.calib_samples, min_top1=0.0, min_cosine=0.0, **source)
            reports.append((label, export(request)))

    def short(stage: str) -> str:  # "quantize (PTQ)" and "quantize (kept from ...)" share a column
        return stage.split(" (")[0]

    stages = list(dict.fromkeys(short(s) for _, r in reports for s in r["stage_seconds"]))
    rows = []
    for label, r in reports:
        seconds = dict.fromkeys(stages, 0.0)
        for stage, value in r["stage_seconds"].items():
            seconds[short(stage)] += value
        rows.append([label, *(round(seconds[s], 3) for s in stages), sum(r["stage_seconds"].values())])
    print("\nExport wall time per stage (s)")
    print(format_table(["model", *stages, "total"], rows, "l" + "r" * (len(stages) + 1)))

    rows = []
    for label, r in reports:
        payload = r["int8_weight_bytes"] + r["int32_bias_bytes"]
        pairs = {(p["a"], p["b"]): p for p in r["verification"]["pairs"]}
        rows.append([label, r["tflite_bytes"], r["c_array_bytes"], r["int8_weight_bytes"], r["int32_bias_bytes"],
                     f"{r['tflite_bytes'] / payload:.3f}", f"{r['c_array_bytes'] / payload:.3f}",
                     f"{payload * 1.03 + 8192:,.0f}", r["arena_bytes"]["total"], sum(r["ops"].values()),
                     pairs[("tflm", "litert-ref")]["max_int8_diff"],
                     f"{pairs[('pytorch-int', 'tflm')]['top1_agreement'] * 100:.1f}%",
                     pairs[("pytorch-int", "tflm")]["max_int8_diff"],
                     f"{pairs[('pytorch-fakequant', 'tflm')]['top1_agreement'] * 100:.1f}%",
                     f"{r['accuracy']['fp32_top1'] * 100:.1f}% / {r['accuracy']['int8_tflm_top1'] * 100:.1f}%"])
    print("\nSizes (bytes) and agreement")
    print(format_table(["model", "tflite", "TFLM C array", "int8 weights", "int32 bias", "tflite / payload",
                        "C array / payload", "payload +3% +8 KB", "TFLM arena", "ops", "TFLM-LiteRT max steps",
                        "top-1 int vs TFLM", "int vs TFLM max steps", "top-1 fq vs TFLM", "acc fp32 / int8"],
                       rows, "l" + "r" * 14))


if __name__ == "__main__":
    main()
