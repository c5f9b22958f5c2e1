"""Model-agnostic training loop: momentum SGD, cosine schedule, exact resume, DDP under torchrun.

Defaults follow the FlyNet paper's recipe, adapted to small batches: the paper's lr 0.4 with
momentum 0.2 is an effective step lr / (1 - momentum) = 0.5; lr 0.05 with momentum 0.9 keeps
that step and is the momentum the paper itself uses for fine-tuning.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data.distributed import DistributedSampler

from ..errors import FlynetError
from ..reporting import to_json
from .checkpoint import load_checkpoint, load_state_into, save_checkpoint, write_output
from ..data.datasets import ImageDataset, iterate_batches
from .distributed import (DistContext, setup_distributed, shard_indices, sum_across_ranks, sync_buffers,
                          teardown_distributed)

# The paper's size threshold: weight decay 1e-5 and no quantization noise below it, 4e-5 and noise above.
LARGE_MODEL_PARAMS = 1_600_000
# The paper's best quantization-noise level (Table 6, FlyNet-h3 1.0x).
QUANT_NOISE_LEVELS = 8
CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best.pt"
METRICS_NAME = "metrics.json"
CURVES_NAME = "curves.png"


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float | None = None   # None: the paper's rule by parameter count
    label_smoothing: float = 0.0
    temperature_start: float = 10.0
    temperature_end: float = 1.0
    augment: bool = True
    seed: int = 0
    threads: int = 1
    channels_last: bool = True  # measured 2.4x faster for FlyNet's grouped convs on CPU (benchmarks/train_speed.py)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def check(self) -> None:
        for name, flag in (("epochs", "--epochs"), ("batch_size", "--batch-size"), ("threads", "--workers")):
            if getattr(self, name) < 1:
                raise FlynetError(f"{flag} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.lr < math.inf:
            raise FlynetError(f"--lr must be positive, got {self.lr}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def default_weight_decay(num_params: int) -> float:
    return 1e-5 if num_params < LARGE_MODEL_PARAMS else 4e-5


def default_quant_noise_levels(num_params: int) -> int:
    """Quantization-noise levels for a model of this size (0: off, Dropout stays)."""
    return QUANT_NOISE_LEVELS if num_params >= LARGE_MODEL_PARAMS else 0


def trained_images(shard_size: int, batch_size: int) -> int:
    """Images a rank trains on per epoch: all of its shard except a last batch of one image, which
    BatchNorm1d (MicroNet's head) cannot normalize in training mode. Every rank's shard has the same
    size (DistributedSampler pads), so all ranks drop it together."""
    if shard_size > 1 and shard_size % batch_size == 1:
        return shard_size - 1
    return shard_size


def cosine_lr(base_lr: float, step: int, total_steps: int) -> float:
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * step / max(1, total_steps)))


def temperature_at(config: TrainConfig, epoch: int) -> float:
    """Softmax-ECA temperature for `epoch`, linear from start (first epoch) to end (last)."""
    if config.epochs <= 1:
        return config.temperature_end
    frac = epoch / (config.epochs - 1)
    return config.temperature_start + (config.temperature_end - config.temperature_start) * frac


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Augmentation seed per (run seed, epoch, rank): resuming at any epoch replays the same draws."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


@torch.no_grad()
def evaluate(model: nn.Module, dataset: ImageDataset, batch_size: int = 256,
             ctx: DistContext | None = None) -> tuple[float, float]:
    """(mean cross-entropy, top-1 accuracy) over `dataset`; under DDP each rank takes a shard."""
    ctx = ctx or DistContext(0, 1, torch.device("cpu"))
    was_training = model.training
    model.eval()
    loss_sum = correct = 0.0
    indices = shard_indices(ctx, len(dataset))
    for x, y in iterate_batches(dataset, indices, batch_size):
        x, y = x.to(ctx.device), y.to(ctx.device)
        logits = model(x)
        loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += float((logits.argmax(1) == y).sum())
    loss_sum, correct, count = sum_across_ranks(ctx, [loss_sum, correct, float(len(indices))])
    model.train(was_training)
    return loss_sum / max(count, 1), correct / max(count, 1)


def _rng_state() -> dict:
    # numpy's state as plain numbers: checkpoints hold tensors and plain data only (see checkpoint.py)
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    numpy_state = [name, [int(k) for k in keys], int(position), int(has_gauss), float(cached_gaussian)]
    return {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    random.setstate(state["python"])


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def train(model: nn.Module, train_set: ImageDataset, test_set: ImageDataset, config: TrainConfig,
          out_dir: str | Path, *, model_config: dict | None = None, resume: bool = False, command: str = "",
          stop_after_epoch: int | None = None, progress: bool = True,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train `model` and write checkpoint.pt / best.pt / metrics.json / curves.png into `out_dir`.

    `resume` continues from out_dir/checkpoint.pt with its saved training config (bit-exact on CPU).
    `stop_after_epoch` ends this run early after that many epochs (the schedule still spans all epochs).
    `extra` entries are stored in every checkpoint as they are (e.g. the QAT stage and its source).
    Returns the metrics dict that metrics.json holds.
    """
    out = Path(out_dir)
    ctx = setup_distributed()
    try:
        return _train(model, train_set, test_set, config, out, ctx, model_config, resume, command,
                      stop_after_epoch, progress, extra or {})
    finally:
        teardown_distributed(ctx)


def _train(model, train_set, test_set, config, out, ctx, model_config, resume, command, stop_after_epoch,
           progress, extra) -> dict[str, Any]:
    checkpoint = None
    if resume:
        checkpoint = load_checkpoint(out / CHECKPOINT_NAME, expect_config=model_config)
        config = TrainConfig.from_dict({**checkpoint["train_config"], "threads": config.threads})
    config.check()
    for dataset in (train_set, test_set):
        if len(dataset) == 0:
            raise FlynetError(f"the {dataset.info.split} split of {dataset.info.source} has no images; add images")
    torch.set_num_threads(config.threads)
    if ctx.device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    _seed_everything(config.seed)

    num_params = count_parameters(model)
    weight_decay = default_weight_decay(num_params) if config.weight_decay is None else config.weight_decay
    model.to(ctx.device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum, weight_decay=weight_decay)

    start_epoch, history, best_top1 = 0, [], -1.0
    if checkpoint is not None:
        load_state_into(model, checkpoint, out / CHECKPOINT_NAME)
        optimizer.load_state_dict(checkpoint["optimizer"])
        _set_rng_state(checkpoint["rng"])
        start_epoch = checkpoint["epoch"]
        history = checkpoint["metrics"]["epochs"]
        best_top1 = checkpoint["best_top1"]
        if ctx.is_main:
            print(f"resuming {out / CHECKPOINT_NAME} after epoch {start_epoch} of {config.epochs}", file=sys.stderr)

    trained = nn.parallel.DistributedDataParallel(model) if ctx.active else model
    sampler = DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=config.seed)
    per_epoch = trained_images(len(sampler), config.batch_size)
    steps_per_epoch = math.ceil(per_epoch / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    last_epoch = config.epochs if stop_after_epoch is None else min(config.epochs, stop_after_epoch)
    run_info = {"num_params": num_params, "weight_decay": weight_decay,
                "world_size": ctx.world_size, "train_images": len(train_set), "test_images": len(test_set)}

    for epoch in range(start_epoch, last_epoch):
        temperature = temperature_at(config, epoch)
        if hasattr(model, "set_temperature"):
            model.set_temperature(temperature)
        sampler.set_epoch(epoch)
        indices = torch.tensor(list(sampler), dtype=torch.int64)[:per_epoch]
        generator = torch.Generator().manual_seed(epoch_seed(config.seed, epoch, ctx.rank))
        trained.train()
        loss_sum = correct = seen = 0.0
        bar = _progress_bar(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", progress and ctx.is_main)
        start = time.perf_counter()
        for i, (x, y) in enumerate(iterate_batches(train_set, indices, config.batch_size, config.augment, generator)):
            lr = cosine_lr(config.lr, epoch * steps_per_epoch + i, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = x.to(ctx.device), y.to(ctx.device)
            if config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            logits = trained(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += float((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.update(1)
            if i % 10 == 0 or i == steps_per_epoch - 1:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}",
                                img_s=f"{seen * ctx.world_size / (time.perf_counter() - start):.0f}")
        seconds = time.perf_counter() - start
        bar.close()
        loss_sum, correct, seen = sum_across_ranks(ctx, [loss_sum, correct, seen])
        sync_buffers(ctx, model)
        test_loss, test_top1 = evaluate(model, test_set, ctx=ctx)
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_top1": correct / seen,
                        "test_loss": test_loss, "test_top1": test_top1, "lr": lr, "temperature": temperature,
                        "images_per_second": seen / seconds, "seconds": seconds})
        improved = test_top1 > best_top1
        best_top1 = max(best_top1, test_top1)
        if ctx.is_main:
            print(f"epoch {epoch + 1}/{config.epochs}: train loss {loss_sum / seen:.4f} top-1 {correct / seen:.4f}, "
                  f"test loss {test_loss:.4f} top-1 {test_top1:.4f}, {seen / seconds:.0f} img/s", file=sys.stderr)
            metrics = _metrics(history, best_top1, config, run_info)
            state = {**extra, "model_config": model_config, "state_dict": model.state_dict(),
                     "temperature": temperature, "data_info": train_set.info.to_dict(), "metrics": metrics,
                     "command": command, "epoch": epoch + 1, "optimizer": optimizer.state_dict(), "rng": _rng_state(),
                     "train_config": config.to_dict(), "best_top1": best_top1}
            save_checkpoint(out / CHECKPOINT_NAME, state)
            if improved:
                save_checkpoint(out / BEST_NAME, state)
            write_output(out / METRICS_NAME, (to_json(metrics) + "\n").encode())
            write_output(out / CURVES_NAME, plot_curves(history))
    return _metrics(history, best_top1, config, run_info)


def _metrics(history: list[dict], best_top1: float, config: TrainConfig, run_info: dict) -> dict[str, Any]:
    return {"epochs": history, "final_test_top1": history[-1]["test_top1"] if history else None,
            "best_test_top1": best_top1 if history else None,
            "completed_epochs": len(history), "config": config.to_dict(), **run_info}


def _progress_bar(total: int, desc: str, enabled: bool):
    from ..reporting import progress_bar

    return progress_bar(total, desc, enabled)


def plot_curves(history: list[dict]) -> bytes:
    """PNG of loss and top-1 per epoch (train and test)."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("test_loss", "test")):
        ax_loss.plot(epochs, [h[key] for h in history], marker="o", label=label)
    for key, label in (("train_top1", "train"), ("test_top1", "test")):
        ax_acc.plot(epochs, [h[key] for h in history], marker="o", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="top-1", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 0.5 ticks on short runs
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
