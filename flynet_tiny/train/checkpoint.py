"""The checkpoint file every stage reads: one torch-saved dict, written atomically.

Keys: `format`, `model_config` (model.config.to_dict()), `state_dict`, `temperature` (the
softmax-ECA temperature the weights were evaluated at), `data_info`, `metrics`, `command`, `stage`
("float" or "qat"), and for resuming `epoch`, `optimizer`, `rng`, `train_config`, `best_top1`.
"""

from __future__ import annotations

import errno
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import FlynetError
from ..reporting import atomic_write_bytes

CHECKPOINT_FORMAT = "flynet-tiny-checkpoint/1"
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> None:
    """Write `checkpoint` to `path` via temp file + fsync + rename; never leaves a truncated file."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **checkpoint}, buffer)
    write_output(path, buffer.getvalue())


def write_output(path: str | Path, data: bytes) -> None:
    """atomic_write_bytes with the one-line errors every training output shares (disk full, no access)."""
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise FlynetError(f"disk full while saving {path} ({exc.strerror}); free space or pass another --out") from None
        raise FlynetError(f"cannot save {path}: {exc.strerror or exc}; check the --out directory") from None


def load_checkpoint(path: str | Path, expect_config: dict | None = None) -> dict[str, Any]:
    """Read a checkpoint; FlynetError for a missing, corrupt or other-architecture file."""
    path = Path(path)
    if not path.is_file():
        raise FlynetError(f"checkpoint {path} does not exist; pass the checkpoint.pt or best.pt written by `flynet-tiny train`")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FlynetError(f"checkpoint {path} is corrupt or not a checkpoint ({reason}); retrain or restore it") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise FlynetError(f"{path} is not a flynet-tiny checkpoint; pass a file written by `flynet-tiny train`")
    if expect_config is not None and checkpoint.get("model_config") != expect_config:
        raise FlynetError(
            f"checkpoint {path} is for another architecture ({describe_config(checkpoint.get('model_config'))}, "
            f"not {describe_config(expect_config)}); pass a checkpoint of this model or a new --out directory")
    return checkpoint


def describe_config(config: dict | None) -> str:
    """A short human name for a model config, for error messages."""
    if not config:
        return "no model config"
    keys = [k for k in ("name", "num_classes", "input_size", "in_channels") if k in config]
    return ", ".join(f"{k}={config[k]}" for k in keys) or "unnamed model"


def load_state_into(model: torch.nn.Module, checkpoint: dict, path: str | Path) -> None:
    """Load weights, turning a shape/key mismatch into a one-line FlynetError."""
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else (first[0] if first else "")
        raise FlynetError(f"checkpoint {path} does not match the model ({detail}); "
                          "pass a checkpoint of the same architecture") from None


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the trained model (eval mode) from its checkpoint; returns (model, checkpoint)."""
    from ..models import build_model_from_config

    checkpoint = load_checkpoint(path)
    if checkpoint.get("stage") == "qat":
        raise FlynetError(f"{path} is a QAT training checkpoint (kept for --resume); use the quantized.pt "
                          "written beside it")
    config = checkpoint.get("model_config")
    if not config:
        raise FlynetError(f"checkpoint {path} has no model config; it was saved from a bare nn.Module and "
                          "cannot be rebuilt, retrain with `flynet-tiny train`")
    model = build_model_from_config(config)
    load_state_into(model, checkpoint, path)
    if "temperature" in checkpoint and hasattr(model, "set_temperature"):
        model.set_temperature(checkpoint["temperature"])  # best.pt may come from mid-annealing
    model.eval()
    return model, checkpoint
