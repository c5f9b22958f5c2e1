"""`flynet-tiny quantize`: post-training quantization of a checkpoint, and its QDQ ONNX on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..convert.onnx_export import export_qdq_onnx
from ..quant.evaluate import quantize_file


def quantize_command(checkpoint: str | Path, data: str | Path, out: str | Path, calib_samples: int = 512,
                     method: str = "minmax", onnx_path: str | Path | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """PTQ `checkpoint` into the quantized file `out` (and QDQ ONNX at `onnx_path`); the summary."""
    qmodel, summary = quantize_file(checkpoint, data, out, calib_samples, method, progress)
    if onnx_path is not None:
        export_qdq_onnx(qmodel, onnx_path)
    return {**summary, "onnx": str(onnx_path) if onnx_path else None}
