"""`flynet-tiny train --qat --from CKPT`: quantization-aware fine-tuning of a trained float checkpoint.

The int8 simulation of the checkpoint (calibrated, then trained with the straight-through estimator)
runs through the training stage's own loop; the result is also written as `quantized.pt` for export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.datasets import ImageDataset, normalize
from ..errors import FlynetError
from ..train.checkpoint import load_checkpoint, model_from_checkpoint
from ..train.command import finish_run, start_run
from ..train.distributed import is_main_process
from .evaluate import calibration_batches
from .io import save_quantized
from .observers import METHODS
from .qat import convert_qat, prepare_qat

# QAT starts from a trained model: a short run at a tenth of the float learning rate.
QAT_DEFAULTS = {"epochs": 5, "lr": 0.005}
QUANTIZED_NAME = "quantized.pt"


def run_qat(data: str | Path, out: str | Path, from_checkpoint: str | Path, *, epochs: int | None = None,
            batch_size: int = 64, lr: float | None = None, seed: int = 0, workers: int | None = None,
            resume: bool = False, calib_method: str = "minmax", calib_samples: int = 512, command: str = "",
            progress: bool = True) -> dict[str, Any]:
    """Fine-tune the int8 simulation of `from_checkpoint` on `data` into `out`; also writes out/quantized.pt."""
    if calib_method not in METHODS:
        raise FlynetError(f"unknown --calib-method {calib_method!r}; use one of {', '.join(METHODS)}")
    source = load_checkpoint(from_checkpoint)
    info = source.get("data_info") or {}
    run = start_run(data, out, QAT_DEFAULTS, epochs=epochs, batch_size=batch_size, lr=lr,
                    input_size=int(info.get("input_size", 32)), in_channels=int(info.get("in_channels", 1)),
                    seed=seed, workers=workers, resume=resume)
    # The traced QAT graph keeps the temperature it was trained at: no annealing.
    run.config.temperature_start = run.config.temperature_end = float(source.get("temperature", 1.0))
    base, checkpoint = model_from_checkpoint(from_checkpoint)
    example = normalize(run.train_set.images[:1])
    model = prepare_qat(base, example, calibration_batches(run.train_set, calib_samples), num_samples=calib_samples,
                        method=calib_method, progress=progress)
    extra = {"stage": "qat", "from": str(from_checkpoint), "calib_method": calib_method, "calib_samples": calib_samples}
    result = finish_run(run, model, checkpoint["model_config"], extra, resume=resume, command=command,
                        progress=progress)
    result["quantized"] = str(run.out / QUANTIZED_NAME)
    if is_main_process():
        _save_quantized(model, run.out / QUANTIZED_NAME, run.train_set, from_checkpoint, calib_method)
    return result


def _save_quantized(qat_model, path: Path, train_set: ImageDataset, source: str | Path, calib_method: str) -> None:
    save_quantized(convert_qat(qat_model), path, {"data_info": train_set.info.to_dict(), "source": str(source),
                                                  "method": calib_method, "qat": True})
