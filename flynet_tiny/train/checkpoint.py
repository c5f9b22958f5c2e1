"""The checkpoint file every stage reads: one torch-saved dict, written atomically.

Keys: `format`, `model_config` (model.config.to_dict()), `state_dict`, `temperature` (the
softmax-ECA temperature the weights were evaluated at), `data_info`, `metrics`, `command`, `stage`
("float" or "qat"), and for resuming `epoch`, `optimizer`, `rng`, `train_config`, `best_top1`.

A checkpoint holds tensors and plain data (numbers, strings, lists, dicts) only, and
`read_torch_file` loads it with torch's weights-only unpickler: a file that names any other Python
object (a crafted pickle that would run a command, or an old file holding pickled modules) is
refused with one line and nothing of it runs.
"""

from __future__ import annotations

import errno
import io
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import FlynetError
from ..reporting import atomic_write_bytes

CHECKPOINT_FORMAT = "flynet-tiny-checkpoint/1"
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# Checkpoints written before the RNG state was stored as plain numbers hold numpy's as an array. These
# rebuild arrays and dtypes only (no callable the file could choose), so they are allowed as well.
_LEGACY_NUMPY_GLOBALS = [np._core.multiarray._reconstruct, np.ndarray, np.dtype]
_UNSUPPORTED_GLOBAL = re.compile(r"GLOBAL (\S+)")
_CORRUPT = (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, TypeError,
            KeyError, IndexError, AttributeError, UnicodeDecodeError)


def read_torch_file(path: Path, what: str, fix: str) -> Any:
    """The data of a torch-saved file, unpickled weights-only (tensors and plain data, never code).
    FlynetError naming `what` the file should be and `fix` for anything else."""
    try:
        with torch.serialization.safe_globals(_LEGACY_NUMPY_GLOBALS), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. about the pickle protocol: the outcome is said in one line
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _UNSUPPORTED_GLOBAL.search(str(exc))
        if not found and not _looks_pickled(path):
            raise FlynetError(f"{path} is corrupt or not a {what} (not a PyTorch file); {fix}") from None
        held = f"a pickled Python object ({found[1].rstrip('.,')})" if found else \
            "pickled data other than tensors and plain data"
        raise FlynetError(f"{path} holds {held}, which flynet-tiny never loads: it is not a {what}, or was written "
                          f"by an older flynet-tiny; {fix}") from None
    except _CORRUPT as exc:
        raise FlynetError(f"{path} is corrupt or not a {what} ({_first_line(exc)}); {fix}") from None


def _looks_pickled(path: Path) -> bool:
    """A torch zip archive or a pickle of protocol 2 or later (what the weights-only loader refused is then
    its content, not its format)."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    return head == b"PK" or head[:1] == b"\x80"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


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
    checkpoint = read_torch_file(path, "flynet-tiny checkpoint", "retrain or restore it")
    return checked_checkpoint(checkpoint, path, expect_config)


def checked_checkpoint(checkpoint: Any, path: str | Path, expect_config: dict | None = None) -> dict[str, Any]:
    """`checkpoint` (the data of `path`) if it is a checkpoint of `expect_config`'s architecture."""
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
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else (first[0] if first else "")
        raise FlynetError(f"checkpoint {path} does not match the model ({detail}); "
                          "pass a checkpoint of the same architecture") from None


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the trained model (eval mode) from its checkpoint; returns (model, checkpoint)."""
    return model_from_checkpoint_data(load_checkpoint(path), path)


def model_from_checkpoint_data(checkpoint: dict[str, Any], path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """model_from_checkpoint for a checkpoint already read (and checked) from `path`."""
    from ..models import build_model_from_config

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
        temperature = checkpoint["temperature"]
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise FlynetError(f"checkpoint {path} has temperature {temperature!r}, not a positive number; retrain it")
        model.set_temperature(temperature)  # best.pt may come from mid-annealing
    model.eval()
    return model, checkpoint
