"""SUB, SQUARED_DIFFERENCE, MINIMUM, MAXIMUM and PRELU kernels with 4-D broadcasting, bit-exact with TFLite
Micro one-op models (ADD and MUL are in test_kernels_ops.py)."""

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.tflite import TFLiteBuilder
from oneop_models import binary_model, random_int8, random_scale, random_zero_point, tflm

# Every axis broadcast on one side or the other, both sides at once, ranks below 4, scalars.
BROADCASTS = [((1, 5, 7, 3), (1, 5, 7, 3)), ((1, 4, 6, 5), (5,)), ((3,), (2, 3, 4, 3)), ((2, 3, 1, 7), (2, 1, 4, 1)),
              ((1, 4, 6, 5), (1, 4, 1, 5)), ((2, 4, 6, 5), (1, 4, 6, 1)), ((2, 1, 1, 1), (1, 3, 2, 4)),
              ((4, 6), (4, 1)), ((1, 1, 1, 1), (2, 2, 2, 2)), ((1, 3, 5, 1), (1,))]


def _q(rng, low=0.005, high=0.1):
    return random_scale(rng, low, high), random_zero_point(rng)


@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
@pytest.mark.parametrize("op", ["SUB", "SQUARED_DIFFERENCE", "MINIMUM", "MAXIMUM"])
def test_binary_ops_match_tflm(kernels, op, shapes):
    for seed in range(4):
        rng = np.random.default_rng(seed)
        a_q, b_q, y_q = _q(rng), _q(rng), _q(rng, 0.01, 0.2)
        if op == "SQUARED_DIFFERENCE":
            y_q = _q(rng, 1e-4, 5e-3)  # squares of small differences: a range the output can hold
        activation = str(rng.choice(["NONE", "RELU", "RELU6"])) if op == "SUB" else None
        options = {"fused_activation_function": activation} if activation else None
        model = binary_model(op, shapes[0], shapes[1], a_q, b_q, y_q, options)
        a, b = (np.asarray(random_int8(rng, shape)).reshape(shape) for shape in shapes)
        expected = tflm(model, [a, b])[0]
        if op in ("MINIMUM", "MAXIMUM"):  # raw comparisons whatever the quantization, as TFLM
            got = (kernels.minimum if op == "MINIMUM" else kernels.maximum)(a, b)
        else:
            make = qp.sub_params if op == "SUB" else qp.squared_difference_params
            params = make(*a_q, *b_q, *y_q)
            params["act_min"], params["act_max"] = qp.activation_range(activation or "NONE", *y_q)
            got = (kernels.sub if op == "SUB" else kernels.squared_difference)(a, b, params)
        assert got.shape == expected.shape and np.array_equal(got, expected), (op, seed)


@pytest.mark.parametrize("seed", [24, 36, 5])
def test_sub_matches_tflm_on_every_input_pair(kernels, seed):
    """Seeds 24 and 36 draw scales where parameters divided in float32 (as a recent TFLM source reads)
    would give other bytes than the double arithmetic TFLM runs."""
    rng = np.random.default_rng(seed)
    a_q, b_q, y_q = _q(rng), _q(rng), _q(rng, 0.01, 0.2)
    grid = np.arange(-128, 128, dtype=np.int16).astype(np.int8)
    a, b = np.repeat(grid, 256).reshape(1, 256, 256, 1), np.tile(grid, 256).reshape(1, 256, 256, 1)
    params = {**qp.sub_params(*a_q, *b_q, *y_q), "act_min": -128, "act_max": 127}
    assert np.array_equal(kernels.sub(a, b, params), tflm(binary_model("SUB", a.shape, b.shape, a_q, b_q, y_q), [a, b])[0])


def test_in_place_output_over_an_operand(kernels):
    rng = np.random.default_rng(7)
    a, b = random_int8(rng, (1, 5, 7, 3)), random_int8(rng, (3,))
    expected = np.maximum(a, b)
    assert np.array_equal(kernels.maximum(a, b, out=a), expected)


def prelu_model(x_shape, alpha: np.ndarray, x_q, alpha_q, y_q) -> bytes:
    b = TFLiteBuilder("prelu")
    xi = b.add_tensor("x", x_shape, "int8", scale=x_q[0], zero_point=x_q[1])
    ai = b.add_tensor("alpha", alpha.shape, "int8", data=alpha, scale=alpha_q[0], zero_point=alpha_q[1])
    yi = b.add_tensor("y", np.broadcast_shapes(tuple(x_shape), alpha.shape), "int8", scale=y_q[0], zero_point=y_q[1])
    b.add_operator("PRELU", [xi, ai], [yi])
    b.set_io([xi], [yi])
    return b.build()


# Keras PReLU's alpha shapes: shared over space ([1, 1, C]), one per element ([H, W, C]), one in all.
PRELU_ALPHAS = [(1, 1, 6), (5, 7, 6), (1, 1, 1), (6,), (5, 1, 6)]


@pytest.mark.parametrize("alpha_shape", PRELU_ALPHAS, ids=str)
def test_prelu_matches_tflm(kernels, alpha_shape):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x_q, alpha_q, y_q = _q(rng), (random_scale(rng, 0.001, 0.01), int(rng.integers(-20, 20))), _q(rng)
        alpha = random_int8(rng, alpha_shape)
        x = random_int8(rng, (2, 5, 7, 6))
        expected = tflm(prelu_model(x.shape, alpha, x_q, alpha_q, y_q), [x])[0]
        got = kernels.prelu(x, alpha, qp.prelu_params(*x_q, *alpha_q, *y_q))
        assert np.array_equal(got, expected), seed
