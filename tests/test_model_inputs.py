"""Test inputs in each model's own input types (data/model_inputs.py): pixels mapped per input type or by
--mean / --std, drawn evenly across classes, random values over every input's whole range."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flynet_tiny.data.model_inputs import bench_inputs, image_samples
from flynet_tiny.tflite.interpreters import random_samples
from flynet_tiny.errors import FlynetError
from flynet_tiny.tflite import TFLiteBuilder

SIZE = 8
CLASSES = 3


@pytest.fixture(scope="module")
def class_tree(tmp_path_factory) -> Path:
    """train/ and test/ class folders; test image i of class c is a ramp starting at 81c + 7i, so the
    pixels cover 0..255 and every image says which class and which rank it is."""
    root = tmp_path_factory.mktemp("classes")
    for split in ("train", "test"):
        for c in range(CLASSES):
            folder = root / split / f"class_{c}"
            folder.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(ramp(c, i)).save(folder / f"{i:02d}.png")
    return root


def ramp(c: int, i: int) -> np.ndarray:
    return ((81 * c + 7 * i + 4 * np.arange(SIZE * SIZE)) % 256).astype(np.uint8).reshape(SIZE, SIZE)


def image_model(dtype: str, scale: float | None = None, zero_point: int | None = None, metadata=None,
                extra_input: bool = False) -> bytes:
    """x [1,SIZE,SIZE,1] of `dtype` -> QUANTIZE -> int8 (a float32 input gets scale / zero point on the
    QUANTIZE's output), optionally beside a second, non-image int8 input [1, 5]."""
    b = TFLiteBuilder("inputs")
    shape = [1, SIZE, SIZE, 1]
    quantized = dtype != "float32"
    x = b.add_tensor("x", shape, dtype, scale=scale if quantized else None, zero_point=zero_point if quantized else None)
    y = b.add_tensor("y", shape, "int8", scale=scale, zero_point=0 if dtype == "uint8" else zero_point)
    b.add_operator("QUANTIZE", [x], [y])
    inputs, outputs = [x], [y]
    if extra_input:
        e = b.add_tensor("features", [1, 5], "int8", scale=0.1, zero_point=0)
        f = b.add_tensor("features_out", [1, 5], "int8", scale=0.1, zero_point=0)
        b.add_operator("QUANTIZE", [e], [f])
        inputs.append(e)
        outputs.append(f)
    if metadata is not None:
        b.add_metadata("flynet_tiny", json.dumps(metadata).encode())
    b.set_io(inputs, outputs)
    return b.build()


def pixels_of(samples, position: int = 0) -> np.ndarray:
    return np.stack([sample[position][0, :, :, 0] for sample in samples]).astype(np.float64)


def test_images_are_drawn_evenly_across_classes(class_tree):
    samples = bench_inputs(image_model("uint8", 1.0, 0), 6, class_tree).samples
    expected = np.stack([ramp(c, i) for i in range(2) for c in range(CLASSES)])
    assert np.array_equal(pixels_of(samples), expected)


@pytest.mark.parametrize("dtype, scale, zero_point, to_input", [
    ("uint8", 0.0039, 0, lambda p: p),                                  # raw pixels
    ("int8", 0.0039176736, -128, lambda p: p - 128),                    # the pixels over the int8 grid
    ("int8", 1.0, -128, lambda p: p - 128),                             # scale 1.0: still 256 values
    ("float32", 0.5, 10, lambda p: (p - 128 - 10) * np.float32(0.5)),   # the QUANTIZE's real value of p - 128
])
def test_pixels_cover_the_input_range_by_default(class_tree, dtype, scale, zero_point, to_input):
    inputs = bench_inputs(image_model(dtype, scale, zero_point), 6, class_tree)
    expected = np.stack([ramp(c, i) for i in range(2) for c in range(CLASSES)]).astype(np.float64)
    assert all(sample[0].dtype == np.dtype(dtype) for sample in inputs.samples)
    assert np.array_equal(pixels_of(inputs.samples), to_input(expected).astype(dtype).astype(np.float64))
    assert len(np.unique(pixels_of(inputs.samples))) > 200
    assert "drawn evenly across classes" in inputs.source and "the default for the input type" in inputs.source


def test_mean_and_std_map_pixels_onto_the_input_quantization(class_tree):
    samples, source = image_samples(image_model("int8", 0.02, 5), class_tree, 3, mean=[127.5], std=[60.0])
    p = np.stack([ramp(c, 0) for c in range(CLASSES)]).astype(np.float64)
    expected = np.clip(np.rint((p - 127.5) / 60.0 / np.float32(0.02)) + 5, -128, 127)
    assert np.array_equal(pixels_of(samples), expected)
    assert "(p - 127.5) / 60" in source


def test_a_flynet_model_keeps_its_own_normalisation(class_tree):
    model = image_model("int8", 1 / 128, 0, metadata={"mean": [128.0], "std": [128.0]})
    samples, source = image_samples(model, class_tree, 3)
    p = np.stack([ramp(c, 0) for c in range(CLASSES)]).astype(np.float64)
    assert np.array_equal(pixels_of(samples), np.clip(p - 128, -128, 127))
    assert "the model's own normalisation" in source


def test_inputs_that_are_not_images_get_random_values(class_tree):
    samples, source = image_samples(image_model("uint8", 0.01, 0, extra_input=True), class_tree, 3)
    assert [[x.shape for x in sample] for sample in samples] == [[(1, SIZE, SIZE, 1), (1, 5)]] * 3
    assert "inputs that are not images: random" in source
    features = np.stack([sample[1] for sample in samples])
    assert features.dtype == np.int8 and len(np.unique(features)) > 5


def test_random_samples_span_every_input_type(tmp_path):
    model = image_model("float32", 0.5, 10, extra_input=True)
    (floats, ints), = [np.concatenate([s[k].reshape(-1) for s in random_samples(model, 40)]) for k in (0, 1)],
    assert floats.dtype == np.float32 and ints.dtype == np.int8
    # float32: the QUANTIZE's real range (-128 - 10) * 0.5 .. (127 - 10) * 0.5
    assert -69 <= floats.min() < -60 and 50 < floats.max() <= 58.5
    assert ints.min() == -128 and ints.max() == 127
    uint8 = np.concatenate([s[0].reshape(-1) for s in random_samples(image_model("uint8", 0.1, 0), 10)])
    assert uint8.dtype == np.uint8 and uint8.min() == 0 and uint8.max() == 255


@pytest.mark.parametrize("mean, std, message", [
    ([127.5], None, "--mean and --std go together"),
    ([1.0, 2.0], [3.0, 4.0], "--mean has 2 values for 1-channel images"),
    ([0.0], [0.0], "--std must be positive"),
])
def test_bad_normalisation_is_one_line(class_tree, mean, std, message):
    with pytest.raises(FlynetError, match=message):
        image_samples(image_model("int8", 0.02, 0), class_tree, 2, mean=mean, std=std)


def test_models_without_an_image_input_are_named(class_tree):
    b = TFLiteBuilder("vector")
    x = b.add_tensor("x", [1, 16], "int8", scale=0.1, zero_point=0)
    y = b.add_tensor("y", [1, 16], "int8", scale=0.2, zero_point=0)
    b.add_operator("QUANTIZE", [x], [y])
    b.set_io([x], [y])
    with pytest.raises(FlynetError, match=r"no model input is a square image .*\[1, 16\]"):
        image_samples(b.build(), class_tree, 2)
    assert bench_inputs(b.build(), 2).source.startswith("2 random inputs")
