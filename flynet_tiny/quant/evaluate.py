"""The quantize / evaluate stage entry points: load a model file, calibrate, compare top-1.

A model file is either a training checkpoint (float; int8 comes from PTQ on the training
split) or a quantized file from `flynet-tiny quantize` (which holds both: its float mode is
the BN-folded model, its quantize mode the int8 simulation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from ..errors import FlynetError
from ..resources import BUNDLED_CHECKPOINT
from .io import is_quantized_file, quantized_from_data, save_quantized
from .model import QuantizedModel, quantize_model

CALIBRATION_SEED = 0


def bundled_model_path() -> Path:
    """The model shipped in flynet_tiny/pretrained/."""
    if not BUNDLED_CHECKPOINT.is_file():
        raise FlynetError(f"no bundled model at {BUNDLED_CHECKPOINT}: pass a model file (CHECKPOINT, or for "
                          "export --checkpoint, --model, --onnx or --tflite)")
    return BUNDLED_CHECKPOINT


def load_model_file(path: str | Path) -> tuple[nn.Module | None, QuantizedModel | None, dict[str, Any]]:
    """(float model or None, quantized model or None, data_info dict) from a checkpoint or quantized file,
    read once and never unpickling code (train/checkpoint.py, `read_torch_file`)."""
    from ..train.checkpoint import checked_checkpoint, model_from_checkpoint_data, read_torch_file

    path = Path(path)
    if not path.is_file():
        raise FlynetError(f"model file {path} does not exist; pass a checkpoint from `flynet-tiny train` "
                          "or a file from `flynet-tiny quantize`")
    data = read_torch_file(path, "flynet-tiny checkpoint or quantized model",
                           "pass a file written by `flynet-tiny train` or `flynet-tiny quantize`")
    if is_quantized_file(data):
        qmodel, info = quantized_from_data(data, path)
        return None, qmodel, info.get("data_info") or {}
    model, checkpoint = model_from_checkpoint_data(checked_checkpoint(data, path), path)
    return model, None, checkpoint.get("data_info") or {}


def calibration_batches(dataset, num_samples: int, batch_size: int = 64) -> Iterator[torch.Tensor]:
    """A fixed random subset (seeded) of `dataset`, as normalized image batches."""
    from ..data.datasets import iterate_batches

    generator = torch.Generator().manual_seed(CALIBRATION_SEED)
    indices = torch.randperm(len(dataset), generator=generator)[:num_samples]
    for x, _ in iterate_batches(dataset, indices, batch_size):
        yield x


def _load_split(data: str | Path, split: str, data_info: dict[str, Any]):
    """The `split` of `data`, fitted to the model, refused when it is not the kind of data the model learned."""
    from ..data.datasets import check_matches_model, load_dataset

    if "input_size" not in data_info or "in_channels" not in data_info:
        raise FlynetError("the model file has no data_info (input size, channels); retrain or requantize it")
    dataset = load_dataset(data, split, input_size=int(data_info["input_size"]), in_channels=int(data_info["in_channels"]))
    check_matches_model(dataset, data_info)
    dataset.check_labels(int(data_info.get("num_classes") or dataset.info.num_classes))
    return dataset


def quantize_file(checkpoint: str | Path, data: str | Path, out: str | Path, calib_samples: int = 512,
                  method: str = "minmax", progress: bool = True) -> tuple[QuantizedModel, dict[str, Any]]:
    """PTQ a training checkpoint with `calib_samples` training images and write the quantized file:
    the model, and a summary for the report."""
    model, qmodel, data_info = load_model_file(checkpoint)
    if model is None:
        raise FlynetError(f"{checkpoint} is already quantized; pass the float checkpoint from `flynet-tiny train`")
    if calib_samples < 1:
        raise FlynetError(f"--calib-samples must be at least 1, got {calib_samples}")
    train_set = _load_split(data, "train", data_info)
    qmodel = quantize_model(model, calibration_batches(train_set, calib_samples), method, calib_samples,
                            progress=progress)
    save_quantized(qmodel, out, {"data_info": data_info, "source": str(checkpoint), "method": method,
                                 "calib_samples": min(calib_samples, len(train_set))})
    summary = qmodel.qparams()
    return qmodel, {"checkpoint": str(checkpoint), "output": str(out),
                    "method": method, "calib_samples": min(calib_samples, len(train_set)),
                    "activation_tensors": len(summary["activations"]),
                    "quantization_groups": len({a["group"] for a in summary["activations"]}),
                    "weighted_layers": len(summary["layers"])}


def evaluate_file(path: str | Path | None, data: str | Path, split: str = "test", calib_samples: int = 512,
                  method: str = "minmax", batch_size: int = 256, progress: bool = True) -> dict[str, Any]:
    """fp32, int8 fake-quant and int8 integer-mode (TFLM's arithmetic: what the board computes) top-1."""
    from ..train.trainer import evaluate

    path = Path(path) if path is not None else bundled_model_path()
    model, qmodel, data_info = load_model_file(path)
    dataset = _load_split(data, split, data_info)
    if qmodel is None:
        train_set = _load_split(data, "train", data_info)
        qmodel = quantize_model(model, calibration_batches(train_set, calib_samples), method, calib_samples,
                                progress=progress)
    else:
        with qmodel.float_mode():
            _, float_top1 = evaluate(qmodel, dataset, batch_size)
    if model is not None:
        _, float_top1 = evaluate(model, dataset, batch_size)
    _, int8_top1 = evaluate(qmodel, dataset, batch_size)
    with qmodel.integer_mode():
        _, integer_top1 = evaluate(qmodel, dataset, batch_size)
    return {"model": str(path), "split": split, "samples": len(dataset), "method": qmodel.method,
            "fp32_top1": float_top1, "int8_top1": int8_top1, "int8_minus_fp32": int8_top1 - float_top1,
            "int8_integer_top1": integer_top1}
