"""The quantized-model file: one torch-saved dict holding the whole QuantizedModel, written atomically."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import FlynetError
from ..reporting import atomic_write_bytes
from .model import QuantizedModel

QUANTIZED_FORMAT = "flynet-tiny-quantized/1"


def save_quantized(qmodel: QuantizedModel, path: str | Path, info: dict[str, Any] | None = None) -> None:
    """Write `qmodel` (graph, weights, qparams) and `info` (data_info, source, method, ...) to `path`."""
    buffer = io.BytesIO()
    torch.save({"format": QUANTIZED_FORMAT, "model": qmodel, "info": dict(info or {})}, buffer)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        raise FlynetError(f"cannot write {path}: {exc.strerror or exc}; check the --out path") from None


def load_quantized(path: str | Path) -> tuple[QuantizedModel, dict[str, Any]]:
    """(QuantizedModel in eval / quantize mode, info) from a file written by save_quantized."""
    path = Path(path)
    if not path.is_file():
        raise FlynetError(f"quantized model {path} does not exist; write one with `flynet-tiny quantize`")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            AttributeError, ModuleNotFoundError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FlynetError(f"{path} is corrupt or not a quantized model ({reason}); run `flynet-tiny quantize` again") from None
    if not is_quantized_file(data):
        raise FlynetError(f"{path} is not a flynet-tiny quantized model; pass a file written by `flynet-tiny quantize`")
    qmodel = data["model"].eval()
    qmodel.set_quantize()
    return qmodel, data["info"]


def is_quantized_file(data: object) -> bool:
    return isinstance(data, dict) and data.get("format") == QUANTIZED_FORMAT
