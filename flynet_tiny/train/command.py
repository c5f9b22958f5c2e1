"""`flynet-tiny train`: build the model and data, pick the recipe, run the trainer.

Float training builds a registry model. Quantization-aware fine-tuning (`--qat`) runs through
the same trainer from flynet_tiny.quant.qat_command, which builds on `start_run` and `finish_run`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data.datasets import ImageDataset, load_dataset
from ..errors import FlynetError
from ..models import build_model
from .checkpoint import load_checkpoint, load_state_into
from .trainer import CHECKPOINT_NAME, TrainConfig, count_parameters, default_quant_noise_levels, train

FLOAT_DEFAULTS = {"epochs": 30, "lr": 0.05}


@dataclass
class TrainRun:
    """What every training run shares: its folder, recipe and data."""

    out: Path
    config: TrainConfig
    train_set: ImageDataset
    test_set: ImageDataset


def start_run(data: str | Path, out: str | Path, defaults: dict, *, epochs: int | None, batch_size: int,
              lr: float | None, input_size: int, in_channels: int | None, seed: int, workers: int | None,
              resume: bool) -> TrainRun:
    """Check the output folder and the recipe's numbers, load both splits. An epochs or lr left None takes
    `defaults`; 0 is an error, never a default."""
    out = Path(out)
    _check_out_dir(out, resume)
    epochs = defaults["epochs"] if epochs is None else epochs
    lr = defaults["lr"] if lr is None else lr
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                         threads=_default_threads() if workers is None else workers)
    config.check()  # before the data loads: a bad number fails at once
    train_set = load_dataset(data, "train", input_size, in_channels)
    test_set = load_dataset(data, "test", input_size, train_set.info.in_channels)
    return TrainRun(out, config, train_set, test_set)


def finish_run(run: TrainRun, model: torch.nn.Module, model_config: dict, extra: dict, *, resume: bool,
               command: str, progress: bool) -> dict[str, Any]:
    """Train `model` on the run's data; the metrics (as in metrics.json) plus the checkpoint path."""
    config = run.config
    num_classes = model_config["num_classes"]
    run.train_set.check_labels(num_classes)
    run.test_set.check_labels(num_classes)
    metrics = train(model, run.train_set, run.test_set, config, run.out, model_config=model_config, resume=resume,
                    command=command, progress=progress, extra=extra)
    return {**metrics, "out": str(run.out), "checkpoint": str(run.out / CHECKPOINT_NAME)}


def run_train(model_name: str, data: str | Path, out: str | Path, *, epochs: int | None = None,
              batch_size: int = 64, lr: float | None = None, input_size: int = 32, in_channels: int | None = None,
              classes: int | None = None, seed: int = 0, workers: int | None = None, resume: bool = False,
              from_checkpoint: str | Path | None = None, stem_stride: int = 2, command: str = "",
              progress: bool = True) -> dict[str, Any]:
    """Train registry model `model_name` on `data` into `out` (optionally from a checkpoint's weights)."""
    if from_checkpoint is not None:
        info = load_checkpoint(from_checkpoint).get("data_info") or {}
        input_size = int(info.get("input_size", input_size))
        in_channels = int(info.get("in_channels", in_channels or 1))
    run = start_run(data, out, FLOAT_DEFAULTS, epochs=epochs, batch_size=batch_size, lr=lr, input_size=input_size,
                    in_channels=in_channels, seed=seed, workers=workers, resume=resume)
    torch.manual_seed(seed)  # the initial weights are part of the seeded run
    model = _float_model(model_name, classes or run.train_set.info.num_classes, input_size,
                         run.train_set.info.in_channels, stem_stride)
    model_config, extra = model.config.to_dict(), {"stage": "float"}
    if from_checkpoint is not None:
        source = load_checkpoint(from_checkpoint, expect_config=model_config)
        load_state_into(model, source, from_checkpoint)
        extra["from"] = str(from_checkpoint)
    return finish_run(run, model, model_config, extra, resume=resume, command=command, progress=progress)


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
    shape = dict(num_classes=num_classes, input_size=input_size, in_channels=in_channels, stem_stride=stem_stride)
    model = build_model(name, **shape)
    levels = default_quant_noise_levels(count_parameters(model))
    if levels and model.config.quant_noise_levels == 0:
        model = build_model(name, **shape, quant_noise_levels=levels)
    return model


def command_line() -> str:
    """The exact command as typed, for the checkpoint's `command` field."""
    import shlex

    return shlex.join(["flynet-tiny", *sys.argv[1:]])
