"""The quantize / evaluate stage entry points: load a model file, calibrate, compare top-1.

A model file is either a training checkpoint (float; int8 comes from PTQ on the training
split) or a quantized file from `flynet-tiny quantize` (which holds both: its float mode is
the BN-folded model, its quantize mode the int8 simulation).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

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
                  method: str = "minmax", batch_size: int = 128, progress: bool = True,
                  samples: int | None = None) -> dict[str, Any]:
    """fp32, int8 fake-quant and int8 integer-mode (TFLM's arithmetic: what the board computes) top-1,
    on the first `samples` images of the split (all by default)."""
    path = Path(path) if path is not None else bundled_model_path()
    if samples is not None and samples < 1:
        raise FlynetError(f"--samples must be at least 1, got {samples}")
    model, qmodel, data_info = load_model_file(path)
    dataset = _load_split(data, split, data_info)
    if samples is not None:
        dataset = dataset.subset(samples)
    if qmodel is None:
        train_set = _load_split(data, "train", data_info)
        qmodel = quantize_model(model, calibration_batches(train_set, calib_samples), method, calib_samples,
                                progress=progress)
    float_model = (model if model is not None else qmodel.float_copy()).eval()
    qmodel.eval()
    top1 = parallel_top1({"fp32": float_model, "int8": qmodel.graph_module, "integer": IntegerColumn(qmodel)},
                         dataset, batch_size, progress)
    return {"model": str(path), "split": split, "samples": len(dataset), "method": qmodel.method,
            "fp32_top1": top1["fp32"], "int8_top1": top1["int8"], "int8_minus_fp32": top1["int8"] - top1["fp32"],
            "int8_integer_top1": top1["integer"]}


class IntegerColumn:
    """The quantized model in integer mode as a plain function of a batch, one interpreter per thread (an
    interpreter keeps per-run state), so worker threads share the model without switching its mode."""

    def __init__(self, qmodel: QuantizedModel):
        self.qmodel = qmodel
        self._local = threading.local()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        from .integer import IntegerInterpreter, integer_forward

        if not hasattr(self._local, "interpreter"):
            self._local.interpreter = IntegerInterpreter(self.qmodel)
        return integer_forward(self.qmodel, x, self._local.interpreter)


def parallel_top1(columns: dict[str, Callable[[torch.Tensor], torch.Tensor]], dataset, batch_size: int = 128,
                  progress: bool = True) -> dict[str, float]:
    """Top-1 accuracy of each column (a function of a normalised batch) over `dataset`.

    The batches are spread over the machine's cores, one torch thread each: two intra-op threads per
    op on a 2-core machine that other work also uses spin and wait (an integer-mode evaluation took 8x
    the CPU time with them), while whole batches in parallel threads (torch releases the GIL in its
    ops) keep both cores busy."""
    from ..data.datasets import normalize
    from ..reporting import progress_bar

    if len(dataset) == 0:
        raise FlynetError("the evaluation split is empty; pass a --data path with images in it")
    starts = range(0, len(dataset), batch_size)

    def run_batch(start: int) -> tuple[dict[str, int], int]:
        x = normalize(dataset.images[start:start + batch_size])
        labels = dataset.labels[start:start + batch_size]
        with torch.no_grad():
            return {name: int((column(x).argmax(1) == labels).sum()) for name, column in columns.items()}, len(x)

    correct = dict.fromkeys(columns, 0)
    workers = max(1, min(2, os.cpu_count() or 1, len(starts)))
    with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool, \
            progress_bar(len(dataset), f"evaluating {' / '.join(columns)}", progress, "img") as bar:
        for counts, size in pool.map(run_batch, starts):
            for name, count in counts.items():
                correct[name] += count
            bar.update(size)
    return {name: count / len(dataset) for name, count in correct.items()}
