"""The quantized-model file: how to rebuild a QuantizedModel, and its tensors; torch-saved, written atomically.

A file holds tensors and plain data only, so that loading it never runs code (see
train/checkpoint.py, `read_torch_file`):

    format          "flynet-tiny-quantized/2"
    model_config    the registry model's config (ModelConfig.to_dict())
    temperature     the softmax-ECA temperature traced into the graph (None: the model has none)
    method          the calibration method (minmax / percentile / mse)
    input_qparams   [scale, zero point] of the fixed input grid (None: observed)
    input_shape     the traced input shape, e.g. [1, 1, 32, 32]
    state_dict      the QuantizedModel's weights and activation qparams
    info            data_info, source, method, ... (plain data)

Loading rebuilds the float model from its config, folds and traces it exactly as quantizing did,
then loads the tensors (every key and shape must match). Version 1 pickled the whole module,
graph code included; it is refused (scripts/upgrade_quantized_file.py converts a file you trust).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ..errors import FlynetError
from ..reporting import atomic_write_bytes
from ..train.checkpoint import read_torch_file
from .model import QuantizedModel, build_quantized

QUANTIZED_FORMAT = "flynet-tiny-quantized/2"
_REWRITE = "run `flynet-tiny quantize` (or `train --qat`) again"


def quantized_file_data(qmodel: QuantizedModel, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """What save_quantized writes for `qmodel`: its rebuild recipe, its tensors and `info`."""
    if qmodel.config is None or not hasattr(qmodel.config, "to_dict"):
        raise FlynetError("only registry models (built by name, e.g. flynet-h3-0.5) can be saved as a quantized "
                          "file: its graph is rebuilt from the model config when the file is loaded")
    return {
        "format": QUANTIZED_FORMAT,
        "model_config": qmodel.config.to_dict(),
        "temperature": qmodel.temperature,
        "method": qmodel.method,
        "input_qparams": list(qmodel.input_qparams) if qmodel.input_qparams is not None else None,
        "input_shape": list(qmodel.input_shape),
        "state_dict": {name: tensor.detach().clone() for name, tensor in qmodel.state_dict().items()},
        "info": dict(info or {}),
    }


def save_quantized(qmodel: QuantizedModel, path: str | Path, info: dict[str, Any] | None = None) -> None:
    """Write `qmodel` (rebuild recipe, weights, qparams) and `info` (data_info, source, method, ...) to `path`."""
    buffer = io.BytesIO()
    torch.save(quantized_file_data(qmodel, info), buffer)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        raise FlynetError(f"cannot write {path}: {exc.strerror or exc}; check the --out path") from None


def load_quantized(path: str | Path) -> tuple[QuantizedModel, dict[str, Any]]:
    """(QuantizedModel in eval / quantize mode, info) from a file written by save_quantized."""
    path = Path(path)
    if not path.is_file():
        raise FlynetError(f"quantized model {path} does not exist; write one with `flynet-tiny quantize`")
    return quantized_from_data(read_torch_file(path, "flynet-tiny quantized model", _REWRITE), path)


def is_quantized_file(data: object) -> bool:
    return isinstance(data, dict) and data.get("format") == QUANTIZED_FORMAT


def quantized_from_data(data: Any, path: str | Path) -> tuple[QuantizedModel, dict[str, Any]]:
    """load_quantized for the data already read from `path`."""
    from ..models import build_model_from_config

    if not is_quantized_file(data):
        raise FlynetError(f"{path} is not a flynet-tiny quantized model; pass a file written by `flynet-tiny quantize`")
    config, state, info = data.get("model_config"), data.get("state_dict"), data.get("info")
    if not isinstance(config, dict) or not isinstance(state, dict) or not isinstance(info, dict):
        raise FlynetError(f"{path} lacks its model config, tensors or info; {_REWRITE}")
    model = build_model_from_config(config)
    try:
        temperature = data.get("temperature")
        if temperature is not None:
            model.set_temperature(_positive(temperature))
        input_qparams = data.get("input_qparams")
        if input_qparams is not None:
            scale, zero_point = input_qparams
            input_qparams = (_positive(scale), int(zero_point))
        shape = [int(d) for d in data["input_shape"]]
        if len(shape) != 4 or shape[0] != 1 or shape[1:] != [config["in_channels"], *[config["input_size"]] * 2]:
            raise ValueError(f"input shape {shape} does not match the model config")
        qmodel = build_quantized(model.eval(), torch.zeros(shape), str(data["method"]), input_qparams)
        qmodel.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise FlynetError(f"{path} does not rebuild into its model ({detail}); {_REWRITE}") from None
    for parameter in qmodel.parameters():
        parameter.requires_grad_(False)
    qmodel.eval()
    qmodel.set_quantize()
    return qmodel, info


def _positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{value!r} is not a positive number")
    return float(value)
