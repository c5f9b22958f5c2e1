"""A model's test inputs, in the model's own input types: from images, or reproducible random values.

A *sample* is one array per model input, in the model's input order, each of the input's shape (batch 1,
NHWC) and dtype (int8, uint8 or float32). Verify, bench and the export's firmware take theirs from here.

Images (an IDX folder or a class-folder tree) are uint8 pixels p, drawn evenly across the classes (the
first image of every class, then the second, ...). How p becomes an input value (`PixelMapping`):
- `--mean` / `--std` given (pixel units, one value or one per channel): the real value x = (p - mean) / std,
  quantized with the input's own scale and zero point (a float32 input takes x itself);
- else a model exported by flynet-tiny: its own normalisation from its metadata, x = (p - 128) / 128;
- else by input type, so the pixels cover the model's whole input range whatever its scale:
  uint8 -> p; int8 -> p - 128; float32 -> the real value of p - 128 on the int8 grid of the QUANTIZE
  reading the input (p / 255 when none does). A model with input scale 1.0 sees 256 distinct values.
Only an input shaped like a square image ([1, S, S, 1 or 3]) takes images; every other input, and every
input when there are no images, gets reproducible random values over its whole range (float32: the
real range of its QUANTIZE's int8 grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import FlynetError
from ..resources import BUNDLED_SAMPLES
from ..tflite import TFLiteGraph, read_tflite
from ..tflite.interpreters import random_samples
from ..tflite.metadata import graph_metadata
from .datasets import load_dataset, normalize

TYPE_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def to_nhwc(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, *range(2, x.ndim), 1) if x.ndim >= 3 else x


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """Real values on a quantized grid, as int64 values in the type's range."""
    lo, hi = TYPE_RANGES[dtype]
    return np.clip(np.rint(x / scale) + zero_point, lo, hi).astype(np.int64)


@dataclass(frozen=True)
class InputSpec:
    """A model input; for a float32 input, `scale` / `zero_point` are those of the QUANTIZE reading it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int | None

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 4 and self.shape[0] == 1 and self.shape[1] == self.shape[2] \
            and self.shape[3] in (1, 3)

    def real_range(self) -> tuple[float, float] | None:
        """The real values the input's int8 grid spans (None without quantization)."""
        if self.scale is None:
            return None
        lo, hi = TYPE_RANGES["uint8" if self.dtype == "uint8" else "int8"]
        return (lo - self.zero_point) * self.scale, (hi - self.zero_point) * self.scale


def input_specs(graph: TFLiteGraph) -> list[InputSpec]:
    specs = []
    for index in graph.inputs:
        tensor, quantized = graph.tensors[index], graph.edge_quantization(index)
        if tensor.dtype not in ("int8", "uint8", "float32"):
            raise FlynetError(f"model input {tensor.name!r} is {tensor.dtype}: inputs must be int8, uint8 or float32")
        has_scale = quantized.scale is not None
        specs.append(InputSpec(tensor.name, tuple(tensor.shape), tensor.dtype,
                               float(quantized.scale[0]) if has_scale else None,
                               int(quantized.zero_point[0]) if has_scale else None))
    return specs


def random_inputs(shape: Sequence[int], count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` reproducible random int8 arrays of `shape`."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=tuple(shape), dtype=np.int8) for _ in range(count)]


# -- images --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PixelMapping:
    """pixel p -> real value (p - mean) / std per channel; None: the per-type default (module docstring)."""

    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    source: str


def pixel_mapping(graph: TFLiteGraph, mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None) -> PixelMapping:
    if (mean is None) != (std is None):
        raise FlynetError("--mean and --std go together: pass both (pixel units, e.g. --mean 127.5 --std 127.5)")
    if mean is not None:
        if any(s <= 0 for s in std):
            raise FlynetError(f"--std must be positive, got {list(std)}")
        return PixelMapping(tuple(mean), tuple(std), f"(p - {_values(mean)}) / {_values(std)}")
    metadata = graph_metadata(graph)
    if metadata.get("mean") and metadata.get("std"):
        return PixelMapping(tuple(metadata["mean"]), tuple(metadata["std"]),
                            f"the model's own normalisation (p - {_values(metadata['mean'])}) / "
                            f"{_values(metadata['std'])}")
    return PixelMapping(None, None, "the default for the input type (uint8: p, int8: p - 128, float32: the "
                                    "QUANTIZE's real value of p - 128)")


def _values(values: Sequence[float]) -> str:
    unique = sorted(set(float(v) for v in values))
    return f"{unique[0]:g}" if len(unique) == 1 else "[" + ", ".join(f"{float(v):g}" for v in values) + "]"


def _per_channel(values: tuple[float, ...], channels: int, flag: str) -> np.ndarray:
    if len(values) not in (1, channels):
        raise FlynetError(f"{flag} has {len(values)} values for {channels}-channel images: pass 1 or {channels}")
    return np.broadcast_to(np.asarray(values, dtype=np.float64), (channels,)).reshape(1, 1, 1, channels)


def pixels_to_input(pixels: np.ndarray, spec: InputSpec, mapping: PixelMapping) -> list[np.ndarray]:
    """uint8 images (N, C, H, W) as N arrays of the input (batch 1, NHWC, the input's dtype)."""
    p = to_nhwc(np.asarray(pixels)).astype(np.float64)
    channels = p.shape[-1]
    if mapping.mean is not None:
        real = (p - _per_channel(mapping.mean, channels, "--mean")) / _per_channel(mapping.std, channels, "--std")
        if spec.dtype == "float32":
            values = real.astype(np.float32)
        elif spec.scale is None:
            raise FlynetError(f"model input {spec.name!r} has no quantization parameters to map pixels onto")
        else:
            values = quantize(real, spec.scale, spec.zero_point, spec.dtype).astype(spec.dtype)
    elif spec.dtype == "uint8":
        values = p.astype(np.uint8)
    elif spec.dtype == "int8":
        values = (p - 128).astype(np.int8)
    elif spec.scale is not None:
        values = ((p - 128 - spec.zero_point) * spec.scale).astype(np.float32)
    else:
        values = (p / 255.0).astype(np.float32)
    return [image[None] for image in values]


def balanced_indices(labels: np.ndarray, count: int) -> np.ndarray:
    """`count` indices drawn evenly across classes: each class's first image, then each one's second, ..."""
    labels = np.asarray(labels)
    per_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    order = [members[rank] for rank in range(max((len(m) for m in per_class), default=0))
             for members in per_class if rank < len(members)]
    return np.asarray(order[:count], dtype=np.int64)


def load_test_pixels(data_path: Path | str, spec: InputSpec, count: int) -> np.ndarray:
    """`count` test images (uint8 NCHW, fitted to the input) drawn evenly across classes."""
    if not Path(data_path).exists():
        raise FlynetError(f"--data {data_path} not found: pass an IDX folder or a class-folder tree")
    dataset = load_dataset(data_path, "test", input_size=spec.shape[1], in_channels=spec.shape[3])
    if len(dataset.images) < count:
        raise FlynetError(f"{data_path} has {len(dataset.images)} test images, fewer than the {count} asked for: "
                          "ask for fewer or pass more data")
    return dataset.images[balanced_indices(dataset.labels.numpy(), count)].numpy()


def image_samples(tflite_bytes: bytes, data_path: Path | str, count: int, mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None, seed: int = 0) -> tuple[list[list[np.ndarray]], str]:
    """`count` samples whose image inputs hold test images from `data_path` (the others random, `seed`),
    and a line saying where they came from and how pixels were mapped."""
    graph = read_tflite(tflite_bytes)
    specs = input_specs(graph)
    if not any(spec.is_image for spec in specs):
        shapes = ", ".join(str(list(spec.shape)) for spec in specs)
        raise FlynetError(f"no model input is a square image ([1, S, S, 1 or 3]; the model takes {shapes}): "
                          "run it without image data")
    mapping = pixel_mapping(graph, mean, std)
    samples = random_samples(tflite_bytes, count, seed)
    for position, spec in enumerate(specs):
        if spec.is_image:
            for sample, value in zip(samples, pixels_to_input(load_test_pixels(data_path, spec, count), spec, mapping)):
                sample[position] = value
    others = "" if all(spec.is_image for spec in specs) else "; inputs that are not images: random (seed 0)"
    return samples, f"{count} test images from {data_path}, drawn evenly across classes, pixels -> " \
                    f"{mapping.source}{others}"


# -- what each command feeds ---------------------------------------------------------------------

def int8_model_inputs(model_bytes: bytes, images: np.ndarray) -> list[np.ndarray]:
    """Normalised NCHW images (the project's models) as the model's first input, batch 1 each: quantized
    with its scale and zero point (int8 / uint8), or the real values themselves (float32)."""
    spec = input_specs(read_tflite(model_bytes))[0]
    x = to_nhwc(np.asarray(images, dtype=np.float32))
    values = x if spec.dtype == "float32" else quantize(x, spec.scale, spec.zero_point, spec.dtype).astype(spec.dtype)
    return [image[None] for image in values]


def model_inputs(tflite_bytes: bytes, images: np.ndarray | None, count: int) -> list[list[np.ndarray]]:
    """Samples for the export's firmware: the first `count` normalised NCHW images (the project's own
    one-input models), or `count` random samples when the export had no images (a --tflite or --onnx
    source without --calib-data)."""
    if images is None or len(images) == 0:
        return random_samples(tflite_bytes, count)
    return [[x] for x in int8_model_inputs(tflite_bytes, images[:count])]


def test_images_for(model_bytes: bytes, data_path: Path, samples: int) -> np.ndarray:
    """`samples` test images from `data_path`, fitted to the model's NHWC input and drawn evenly across
    classes, normalised the project's way as float NCHW (for runtimes fed float images: PyTorch, ONNX)."""
    if samples < 1:
        raise FlynetError("--samples must be at least 1")
    spec = input_specs(read_tflite(model_bytes))[0]
    if not spec.is_image:
        raise FlynetError(f"model input {list(spec.shape)} is not a square NHWC image: verify it from Python "
                          "with your own samples")
    return normalize(torch.from_numpy(load_test_pixels(data_path, spec, samples))).numpy()


@dataclass(frozen=True)
class BenchInputs:
    samples: list[list[np.ndarray]]  # one array per model input, each in the input's shape and dtype
    source: str  # where they came from, said in the report


def bench_inputs(tflite_bytes: bytes, count: int, data_path: Path | str | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> BenchInputs:
    """`count` samples: test images from `data_path` (IDX folder or class folders), or else from the
    Fashion-MNIST samples bundled with the default model, for a model with an image input; reproducible
    random values for a model without one."""
    if count < 1:
        raise FlynetError(f"--inputs must be at least 1, got {count}")
    specs = input_specs(read_tflite(tflite_bytes))
    if data_path is None:
        if not any(spec.is_image for spec in specs) or not BUNDLED_SAMPLES.is_dir():
            return BenchInputs(random_samples(tflite_bytes, count),
                               f"{count} random inputs (seed 0, over each input's range): the model takes no "
                               "square image and no --data was given")
        samples, source = image_samples(tflite_bytes, BUNDLED_SAMPLES, count, mean, std)
        return BenchInputs(samples, source.replace(str(BUNDLED_SAMPLES), "the bundled Fashion-MNIST samples") +
                           " (no --data given)")
    return BenchInputs(*image_samples(tflite_bytes, data_path, count, mean, std))
