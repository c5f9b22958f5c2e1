"""A model's inputs: test images prepared for the model's own input tensor, or reproducible random ones.

Images are read by `datasets`, normalised the project's way and put on the model's int8 input grid
(NHWC, batch 1 each). Verify, bench and the export's firmware all take their inputs from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import FlynetError
from ..resources import BUNDLED_SAMPLES
from ..tflite import read_tflite
from .datasets import load_dataset, normalize


def to_nhwc(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, *range(2, x.ndim), 1) if x.ndim >= 3 else x


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.clip(np.rint(x / scale) + zero_point, -128, 127).astype(np.int64)


def int8_model_inputs(model_bytes: bytes, images: np.ndarray) -> list[np.ndarray]:
    """Normalised NCHW images as the model's int8 NHWC input tensors (batch 1 each), on its input grid."""
    graph = read_tflite(model_bytes)
    tensor = graph.tensors[graph.inputs[0]]
    int8 = quantize(to_nhwc(np.asarray(images)), float(tensor.scale[0]), int(tensor.zero_point[0])).astype(np.int8)
    return [image[None] for image in int8]


def random_inputs(shape: Sequence[int], count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` reproducible random int8 inputs of `shape`, for when no real images are given."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=tuple(shape), dtype=np.int8) for _ in range(count)]


def test_images_for(model_bytes: bytes, data_path: Path, samples: int) -> np.ndarray:
    """`samples` test images from `data_path`, fitted to the model's NHWC input, as float NCHW."""
    if samples < 1:
        raise FlynetError("--samples must be at least 1")
    graph = read_tflite(model_bytes)
    shape = graph.tensors[graph.inputs[0]].shape
    if len(shape) != 4 or shape[1] != shape[2]:
        raise FlynetError(f"model input {shape} is not a square NHWC image: verify it from Python with your own samples")
    dataset = load_dataset(data_path, "test", input_size=shape[1], in_channels=shape[3])
    return normalize(dataset.images[:samples]).numpy()


def int8_inputs(tflite_bytes: bytes, images: np.ndarray | None, count: int) -> list[np.ndarray]:
    """The first `count` normalised NCHW images as the model's int8 NHWC input tensors (random int8
    inputs, seed 0, when the export had no images: a --tflite or --onnx source without --calib-data)."""
    if images is None or len(images) == 0:
        graph = read_tflite(tflite_bytes)
        return random_inputs(graph.tensors[graph.inputs[0]].shape, count)
    return int8_model_inputs(tflite_bytes, images[:count])


@dataclass(frozen=True)
class BenchInputs:
    images: list[np.ndarray]  # int8, the model's input shape
    source: str  # where they came from, said in the report


def bench_inputs(tflite_bytes: bytes, count: int, data_path: Path | str | None = None) -> BenchInputs:
    """`count` test images from `data_path` (IDX folder or class folders), or else from the
    Fashion-MNIST samples bundled with the default model, normalised the project's way and
    quantized with the model's input parameters; random int8 for a model that takes no image."""
    if count < 1:
        raise FlynetError(f"--inputs must be at least 1, got {count}")
    graph = read_tflite(tflite_bytes)
    tensor = graph.tensors[graph.inputs[0]]
    shape = tensor.shape
    is_image = len(shape) == 4 and shape[0] == 1 and shape[1] == shape[2]
    if data_path is None:
        if not is_image or not BUNDLED_SAMPLES.is_dir():
            return BenchInputs(random_inputs(shape, count),
                               f"{count} random int8 inputs (seed 0): the model takes no square image and no --data "
                               "was given")
        data_path, source = BUNDLED_SAMPLES, f"{count} bundled Fashion-MNIST test images (no --data given)"
    else:
        source = f"{count} test images from {data_path}"
    if not is_image:
        raise FlynetError(f"model input {shape} is not one square NHWC image: bench it without --data")
    if not Path(data_path).exists():
        raise FlynetError(f"--data {data_path} not found: pass an IDX folder or a class-folder tree")
    dataset = load_dataset(data_path, "test", input_size=shape[1], in_channels=shape[3])
    if len(dataset.images) < count:
        raise FlynetError(f"{data_path} has {len(dataset.images)} test images, fewer than --inputs {count}: "
                          "lower --inputs or pass --data")
    return BenchInputs(int8_model_inputs(tflite_bytes, normalize(dataset.images[:count]).numpy()), source)
