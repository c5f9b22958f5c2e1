"""QUANTIZE (uint8 -> int8, int8 -> int8, int8 -> uint8, float32 -> int8) and DEQUANTIZE (int8 -> float32)
kernels on the host, equal to TFLite Micro byte for byte (float32 outputs compared as bits). The generated C
and the firmware in QEMU: tests/test_codegen_io.py."""

from __future__ import annotations

import numpy as np
import pytest

from flynet_tiny.int8.kernel_params import requantize_params
from oneop_models import quantize_model, random_scale, random_zero_point, tflm

DTYPE_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def every_value(dtype: str) -> np.ndarray:
    lo, hi = DTYPE_RANGES[dtype]
    return np.arange(lo, hi + 1).astype(dtype).reshape(1, -1)


# (input, output) quantization pairs: the zero-point shift of 128 at equal scales (the byte flip), another
# shift at equal scales (an add), and scale ratios above and below one.
INTEGER_CASES = [
    ("uint8", (0.0039176736, 0), "int8", (0.0039176736, -128)),
    ("uint8", (0.06564591, 135), "int8", (0.06564591, 7)),
    ("uint8", (0.02, 3), "int8", (0.05, -10)),
    ("uint8", (0.05, 200), "int8", (0.013, 4)),
    ("int8", (0.03, -5), "int8", (0.03, 9)),
    ("int8", (0.03, -5), "int8", (0.011, 20)),
    ("int8", (0.011, 60), "int8", (0.09, -100)),
    ("int8", (0.00390625, -128), "uint8", (0.00390625, 0)),
    ("int8", (0.02, 1), "uint8", (0.07, 130)),
]


@pytest.mark.parametrize("in_dtype, in_q, out_dtype, out_q", INTEGER_CASES)
def test_integer_quantize_matches_tflm_on_every_value(kernels, in_dtype, in_q, out_dtype, out_q):
    model = quantize_model(in_dtype, in_q, out_dtype, out_q, 256)
    x = every_value(in_dtype)
    want = tflm(model, [x])[0]
    assert want.dtype == np.dtype(out_dtype)
    assert np.array_equal(kernels.requantize(x, requantize_params(*in_q, *out_q), out_dtype), want)


def test_random_requantizations_match_tflm(kernels):
    rng = np.random.default_rng(11)
    for _ in range(40):
        in_q = (random_scale(rng, 0.001, 0.5), random_zero_point(rng))
        out_q = (random_scale(rng, 0.001, 0.5), random_zero_point(rng))
        model = quantize_model("int8", in_q, "int8", out_q, 256)
        x = every_value("int8")
        assert np.array_equal(kernels.requantize(x, requantize_params(*in_q, *out_q)), tflm(model, [x])[0])


def float_inputs(scale: float, zero_point: int) -> np.ndarray:
    """Values on and between the grid: exact halves of both signs (rounded away from zero), near-halves,
    zero and minus zero, and values far beyond the int8 range (saturating)."""
    rng = np.random.default_rng(1)
    steps = np.arange(-140, 141, dtype=np.float64)
    values = np.concatenate([
        (steps + 0.5) * scale, (steps - 0.5) * scale, steps * scale,
        np.nextafter(np.float32((steps + 0.5) * scale), np.float32(0)).astype(np.float64),
        rng.uniform(-300, 300, 500) * scale, [0.0, -0.0, 1e6 * scale, -1e6 * scale, 3e8 * scale],
    ])
    return values.astype(np.float32).reshape(1, -1)


@pytest.mark.parametrize("scale, zero_point", [(0.5, 3), (0.0039176736, -128), (0.0731, 17), (1.0, 0)])
def test_float_quantize_matches_tflm(kernels, scale, zero_point):
    x = float_inputs(scale, zero_point)
    model = quantize_model("float32", None, "int8", (scale, zero_point), x.size)
    want = tflm(model, [x])[0]
    assert np.array_equal(kernels.quantize_f32(x, np.float32(scale), zero_point), want)


@pytest.mark.parametrize("scale, zero_point", [(0.00390625, -128), (0.0216950960, 69), (0.1019598991, 0),
                                               (3.7e-39, 5), (173.25, -3)])
def test_dequantize_gives_tflm_float_bits(kernels, scale, zero_point):
    """Every int8 value, scales from a subnormal product range to above one: the same float32 bits."""
    model = quantize_model("int8", (scale, zero_point), "float32", None, 256)
    x = every_value("int8")
    want = tflm(model, [x])[0]
    assert want.dtype == np.float32
    assert kernels.dequantize(x, np.float32(scale), zero_point).tobytes() == want.tobytes()
