"""`flynet-tiny train`: build the model and data, pick the recipe, run the trainer.

Float training builds a registry model; `--qat --from CKPT` fine-tunes the int8 simulation of a
trained checkpoint (flynet_tiny.quant.prepare_qat) and also writes `quantized.pt` for export.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from ..errors import FlynetError
from .checkpoint import load_checkpoint, load_state_into, model_from_checkpoint
from ..data.datasets import ImageDataset, load_dataset, normalize
from .distributed import is_main_process
from .trainer import CHECKPOINT_NAME, TrainConfig, count_parameters, default_quant_noise_levels, train

FLOAT_DEFAULTS = {"epochs": 30, "lr": 0.05}
# QAT starts from a trained model: a short run at a tenth of the float learning rate.
QAT_DEFAULTS = {"epochs": 5, "lr": 0.005}
QUANTIZED_NAME = "quantized.pt"


def run_train(model_name: str, data: str | Path, out: str | Path, *, epochs: int | None = None,
              batch_size: int = 64, lr: float | None = None, input_size: int = 32, in_channels: int | None = None,
              classes: int | None = None, seed: int = 0, workers: int | None = None, resume: bool = False,
              qat: bool = False, from_checkpoint: str | Path | None = None, calib_method: str = "minmax",
              calib_samples: int = 512, stem_stride: int = 2, command: str = "",
              progress: bool = True) -> dict[str, Any]:
    """Train `model_name` on `data` into `out`; returns the metrics (as in metrics.json) plus output paths."""
    out = Path(out)
    _check_out_dir(out, resume)
    if qat and from_checkpoint is None:
        raise FlynetError("--qat needs --from CHECKPOINT: QAT fine-tunes a trained float model")
    defaults = QAT_DEFAULTS if qat else FLOAT_DEFAULTS
    config = TrainConfig(epochs=epochs or defaults["epochs"], batch_size=batch_size, lr=lr or defaults["lr"],
                         seed=seed, threads=workers or _default_threads())
    if qat:  # the traced QAT graph keeps the temperature it was trained at: no annealing
        temperature = float(load_checkpoint(from_checkpoint).get("temperature", 1.0))
        config.temperature_start = config.temperature_end = temperature
    config.check()
    if from_checkpoint is not None:
        source = load_checkpoint(from_checkpoint)
        info = source.get("data_info") or {}
        input_size = int(info.get("input_size", input_size))
        in_channels = int(info.get("in_channels", in_channels or 1))
    train_set = load_dataset(data, "train", input_size, in_channels)
    test_set = load_dataset(data, "test", input_size, train_set.info.in_channels)
    torch.manual_seed(seed)  # the initial weights are part of the seeded run
    if qat:
        model, model_config, extra = _qat_model(from_checkpoint, train_set, calib_method, calib_samples, progress)
    else:
        model = _float_model(model_name, classes or train_set.info.num_classes, input_size, train_set.info.in_channels,
                             stem_stride)
        model_config, extra = model.config.to_dict(), {"stage": "float"}
        if from_checkpoint is not None:
            source = load_checkpoint(from_checkpoint, expect_config=model_config)
            load_state_into(model, source, from_checkpoint)
            extra["from"] = str(from_checkpoint)
    num_classes = model_config["num_classes"]
    train_set.check_labels(num_classes)
    test_set.check_labels(num_classes)
    metrics = train(model, train_set, test_set, config, out, model_config=model_config, resume=resume,
                    command=command, progress=progress, extra=extra)
    result = {**metrics, "out": str(out), "checkpoint": str(out / CHECKPOINT_NAME)}
    if qat:
        result["quantized"] = str(out / QUANTIZED_NAME)
        if is_main_process():
            _save_qat_result(model, out / QUANTIZED_NAME, train_set, from_checkpoint, calib_method)
    return result


def _check_out_dir(out: Path, resume: bool) -> None:
    exists = (out / CHECKPOINT_NAME).exists()
    if resume and not exists:
        raise FlynetError(f"nothing to resume: {out / CHECKPOINT_NAME} does not exist; drop --resume or pass the run's --out")
    if not resume and exists:
        raise FlynetError(f"{out} already holds a training run; pass --resume to continue it or choose another --out")
    if out.exists() and not out.is_dir():
        raise FlynetError(f"--out {out} is a file; pass a directory")


def _default_threads() -> int:
    """One thread per process: on this shared 2-core machine a second OpenMP thread made FlyNet steps
    6x slower (benchmarks/train_speed.py); use both cores with `torchrun --nproc_per_node 2` instead."""
    return 1


def _float_model(name: str, num_classes: int, input_size: int, in_channels: int,
                 stem_stride: int = 2) -> torch.nn.Module:
    """The registry model; above the paper's size threshold its Dropout becomes quantization noise."""
    from ..models import build_model

    shape = dict(num_classes=num_classes, input_size=input_size, in_channels=in_channels, stem_stride=stem_stride)
    model = build_model(name, **shape)
    levels = default_quant_noise_levels(count_parameters(model))
    if levels and model.config.quant_noise_levels == 0:
        model = build_model(name, **shape, quant_noise_levels=levels)
    return model


def _qat_model(source: str | Path, train_set: ImageDataset, calib_method: str, calib_samples: int,
               progress: bool) -> tuple[torch.nn.Module, dict, dict]:
    from ..quant import METHODS, prepare_qat
    from ..quant.evaluate import calibration_batches

    if calib_method not in METHODS:
        raise FlynetError(f"unknown --calib-method {calib_method!r}; use one of {', '.join(METHODS)}")
    base, checkpoint = model_from_checkpoint(source)
    example = normalize(train_set.images[:1])
    qat_model = prepare_qat(base, example, calibration_batches(train_set, calib_samples), num_samples=calib_samples,
                            method=calib_method, progress=progress)
    extra = {"stage": "qat", "from": str(source), "calib_method": calib_method, "calib_samples": calib_samples}
    return qat_model, checkpoint["model_config"], extra


def _save_qat_result(qat_model: torch.nn.Module, path: Path, train_set: ImageDataset, source: str | Path,
                     calib_method: str) -> None:
    from ..quant import convert_qat, save_quantized

    save_quantized(convert_qat(qat_model), path, {"data_info": train_set.info.to_dict(), "source": str(source),
                                                  "method": calib_method, "qat": True})


def command_line() -> str:
    """The exact command as typed, for the checkpoint's `command` field."""
    import shlex

    return shlex.join(["flynet-tiny", *sys.argv[1:]])
