"""RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU and TANH kernels on every int8 input value, bit-exact with TFLite
Micro one-op models (RELU_N1_TO_1, which TFLM lacks, against LiteRT's reference kernels). The code
generator turns each into a table computed by these kernels (fn_lut_s8)."""

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.codegen.host_kernels import table_inputs
from flynet_tiny.tflite.interpreters import run_litert_reference
from oneop_models import random_scale, random_zero_point, tflm, unary_model

EVERY_INPUT = table_inputs().reshape(1, 4, 8, 8)


def _q(rng, low=0.005, high=0.1):
    return random_scale(rng, low, high), random_zero_point(rng)


def _quantizations(seed: int):
    """Input and output quantization: equal (the converter's usual RELU), or apart by up to 4x."""
    rng = np.random.default_rng(seed)
    x_q = _q(rng, 0.002, 0.2)
    y_q = x_q if seed % 3 == 0 else (x_q[0] * float(np.exp(rng.uniform(-1.4, 1.4))), random_zero_point(rng))
    return x_q, y_q


@pytest.mark.parametrize("seed", range(8))
def test_relu_and_relu6_match_tflm_on_every_input(kernels, seed):
    x_q, y_q = _quantizations(seed)
    expected = tflm(unary_model("RELU", EVERY_INPUT.shape, x_q, y_q), [EVERY_INPUT])[0]
    assert np.array_equal(kernels.relu(EVERY_INPUT, qp.relu_params("RELU", *x_q, *y_q)), expected)
    # TFLM's RELU6 ignores the output quantization: only the input's zero point and 6 bound the clamp.
    expected = tflm(unary_model("RELU6", EVERY_INPUT.shape, x_q, y_q), [EVERY_INPUT])[0]
    assert np.array_equal(kernels.relu(EVERY_INPUT, qp.relu6_params(*x_q)), expected)


@pytest.mark.parametrize("seed", range(8))
def test_relu_n1_to_1_matches_litert_on_every_input(kernels, seed):
    x_q, y_q = _quantizations(seed)
    expected = run_litert_reference(unary_model("RELU_N1_TO_1", EVERY_INPUT.shape, x_q, y_q), [EVERY_INPUT])[0]
    assert np.array_equal(kernels.relu(EVERY_INPUT, qp.relu_params("RELU_N1_TO_1", *x_q, *y_q)), expected)


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.3, 0.01, 0.5, 1.5, -0.25])
def test_leaky_relu_matches_tflm_on_every_input(kernels, alpha):
    for seed in range(4):
        x_q, y_q = _quantizations(seed + int(abs(alpha) * 100))
        model = unary_model("LEAKY_RELU", EVERY_INPUT.shape, x_q, y_q, {"alpha": alpha})
        got = kernels.leaky_relu(EVERY_INPUT, qp.leaky_relu_params(*x_q, *y_q, alpha))
        assert np.array_equal(got, tflm(model, [EVERY_INPUT])[0]), seed


@pytest.mark.parametrize("seed", [6197, 6706, 10491])
def test_leaky_relu_parameters_are_computed_in_double_as_tflm(kernels, seed):
    """Draws where float32 products and quotients (as a recent TFLM source reads) would give other
    multipliers, and other bytes, than the double arithmetic TFLM runs."""
    rng = np.random.default_rng(seed)
    alpha = float(np.float32(rng.uniform(0.01, 0.5)))
    x_q, y_q = _q(rng, 0.002, 0.2), _q(rng, 0.002, 0.2)
    model = unary_model("LEAKY_RELU", EVERY_INPUT.shape, x_q, y_q, {"alpha": alpha})
    got = kernels.leaky_relu(EVERY_INPUT, qp.leaky_relu_params(*x_q, *y_q, alpha))
    assert np.array_equal(got, tflm(model, [EVERY_INPUT])[0])


@pytest.mark.parametrize("seed", range(12))
def test_tanh_matches_tflm_on_every_input(kernels, seed):
    rng = np.random.default_rng(seed)
    x_q = _q(rng, 0.002, 0.5)
    y_q = (1.0 / 128, 0) if seed % 4 else _q(rng)  # TFLM writes 1/128 steps whatever the output says
    expected = tflm(unary_model("TANH", EVERY_INPUT.shape, x_q, y_q), [EVERY_INPUT])[0]
    assert np.array_equal(kernels.tanh(EVERY_INPUT, qp.tanh_params(*x_q)), expected)


@pytest.mark.parametrize("lo, hi", [(-128, 127), (-20, 35), (5, 5), (-128, -100), (90, 127)])
def test_clamp_on_every_input_and_lane(kernels, lo, hi):
    """fn_clamp_s8 (the tables that are a clamp, MINIMUM / MAXIMUM with a constant): every value, every
    start within a 4-byte word, every tail length."""
    x = np.concatenate([table_inputs(), table_inputs()[::-1], table_inputs()[:3]]).reshape(1, -1)
    for start in range(4):
        assert np.array_equal(kernels.clamp(x[:, start:], lo, hi), np.clip(x[:, start:], lo, hi))
