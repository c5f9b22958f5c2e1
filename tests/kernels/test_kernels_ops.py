"""Elementwise, activation, pooling, reduction and data-movement kernels bit-exact with TFLite Micro."""

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.codegen.host_kernels import KernelError
from flynet_tiny.tflite import TFLiteBuilder
from oneop_models import binary_model, random_int8, random_scale, random_zero_point, tflm, unary_model

SEEDS = range(6)


def _q(rng, low=0.005, high=0.1):
    return random_scale(rng, low, high), random_zero_point(rng)


def _mismatches(got, expected) -> int:
    assert got.shape == expected.shape
    return int(np.count_nonzero(got != expected))


BROADCASTS = [((1, 5, 7, 3), (1, 5, 7, 3)), ((1, 4, 6, 5), (1, 1, 1, 5)), ((1, 1, 1, 6), (1, 3, 2, 6)),
              ((2, 3, 1, 7), (2, 1, 4, 1)), ((1, 1, 1, 1), (1, 1, 1, 1))]


@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
@pytest.mark.parametrize("op", ["ADD", "MUL", "MAXIMUM"])
def test_binary_ops_match_tflm(kernels, op, shapes):
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        a_q, b_q, y_q = _q(rng), _q(rng), _q(rng, 0.01, 0.2)
        if op == "MAXIMUM":
            b_q = y_q = a_q  # TFLM compares raw values: one quantization for all three
        activation = str(rng.choice(["NONE", "RELU", "RELU6"])) if op != "MAXIMUM" else None
        options = {"fused_activation_function": activation} if activation else None
        model = binary_model(op, shapes[0], shapes[1], a_q, b_q, y_q, options)
        a, b = random_int8(rng, shapes[0]), random_int8(rng, shapes[1])
        expected = tflm(model, [a, b])[0]
        if op == "MAXIMUM":
            got = kernels.maximum(a, b)
        else:
            make = qp.add_params if op == "ADD" else qp.mul_params
            params = make(*a_q, *b_q, *y_q)
            params["act_min"], params["act_max"] = qp.activation_range(activation, *y_q)
            got = (kernels.add if op == "ADD" else kernels.mul)(a, b, params)
        assert _mismatches(got, expected) == 0


def fc_case(rng, batches, n_in, n_out, per_channel=False, has_bias=True, activation="NONE", y_scale=(0.05, 0.5)):
    """A one-op FULLY_CONNECTED model, its input, TFLM's output and the kernels' requantization parameters."""
    x_q, y_q = _q(rng), _q(rng, *y_scale)
    w_scales = [random_scale(rng, 0.002, 0.05) for _ in range(n_out if per_channel else 1)]
    w = rng.integers(-127, 128, size=(n_out, n_in)).astype(np.int8)
    bias = rng.integers(-5000, 5000, size=n_out).astype(np.int32) if has_bias else None
    b = TFLiteBuilder("fc")
    xi = b.add_tensor("x", (batches, n_in), "int8", scale=x_q[0], zero_point=x_q[1])
    wi = b.add_tensor("w", (n_out, n_in), "int8", data=w, scale=w_scales, zero_point=[0] * len(w_scales))
    bi = -1
    if has_bias:
        bias_scales = [float(np.float32(x_q[0]) * np.float32(s)) for s in w_scales]
        bi = b.add_tensor("b", (n_out,), "int32", data=bias, scale=bias_scales, zero_point=[0] * len(w_scales))
    yi = b.add_tensor("y", (batches, n_out), "int8", scale=y_q[0], zero_point=y_q[1])
    b.add_operator("FULLY_CONNECTED", [xi, wi, bi], [yi], {"fused_activation_function": activation})
    b.set_io([xi], [yi])
    x = random_int8(rng, (batches, n_in))
    expected = tflm(b.build(), [x])[0]
    quant = [qp.quantize_multiplier(float(np.float32(x_q[0])) * float(np.float32(s)) / float(np.float32(y_q[0])))
             for s in w_scales]
    params = {"multiplier": [m for m, _ in quant], "shift": [s for _, s in quant], "input_offset": -x_q[1],
              "output_offset": y_q[1], "act": qp.activation_range(activation, *y_q)}
    return x, w, bias, params, expected


@pytest.mark.parametrize("seed", SEEDS)
def test_fully_connected_matches_tflm(kernels, seed):
    rng = np.random.default_rng(seed)
    batches, n_in, n_out = int(rng.integers(1, 3)), int(rng.integers(1, 40)), int(rng.integers(1, 13))
    x, w, bias, params, expected = fc_case(rng, batches, n_in, n_out, activation=str(rng.choice(["NONE", "RELU"])))
    assert _mismatches(kernels.fully_connected(x, w, bias, **params), expected) == 0


# (batches, in, out, per-channel, bias, activation, output scale range): inputs with and without a tail of 1-3
# past the last group of 4, outputs filling whole quads, 3 rows of one, a lone pair and a lone row, over 512
# inputs (the DSP path's chunks), output scales that make the multiplier's shift non-negative (no fast path).
FC_PAIRS_CASES = [(1, 1, 16, False, True, "NONE", (0.05, 0.5)), (1, 16, 1, False, True, "NONE", (0.05, 0.5)),
                  (2, 37, 14, True, True, "RELU", (0.05, 0.5)), (1, 8, 9, True, False, "RELU6", (0.05, 0.5)),
                  (3, 64, 7, False, True, "NONE", (0.05, 0.5)), (1, 600, 6, True, True, "NONE", (0.3, 0.6)),
                  (1, 130, 5, True, True, "RELU", (0.0005, 0.001)), (1, 5, 2, False, False, "NONE", (0.05, 0.5))]


@pytest.mark.parametrize("case", FC_PAIRS_CASES, ids=str)
def test_fully_connected_row_pairs_match_tflm(kernels, case):
    batches, n_in, n_out, per_channel, has_bias, activation, y_scale = case
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        x, w, bias, params, expected = fc_case(rng, batches, n_in, n_out, per_channel, has_bias, activation, y_scale)
        assert _mismatches(kernels.fully_connected_pairs(x, w, bias, **params), expected) == 0


def _every_int8(shape=(1, 4, 8, 8)) -> np.ndarray:
    return np.arange(-128, 128, dtype=np.int16).astype(np.int8).reshape(shape)


@pytest.mark.parametrize("seed", range(10))
def test_hard_swish_matches_tflm_on_every_input(kernels, seed):
    rng = np.random.default_rng(seed)
    x_q = _q(rng, 0.01, 0.2)
    y_q = _q(rng, x_q[0] / 64, x_q[0] * 2)
    x = _every_int8()
    expected = tflm(unary_model("HARD_SWISH", x.shape, x_q, y_q), [x])[0]
    got = kernels.hard_swish(x, qp.hard_swish_params(*x_q, *y_q))
    assert _mismatches(got, expected) == 0


@pytest.mark.parametrize("seed", range(10))
def test_logistic_matches_tflm_on_every_input(kernels, seed):
    rng = np.random.default_rng(seed)
    x_q = _q(rng, 0.002, 0.5)
    x = _every_int8()
    expected = tflm(unary_model("LOGISTIC", x.shape, x_q, (1.0 / 256, -128)), [x])[0]
    got = kernels.logistic(x, qp.logistic_params(*x_q))
    assert _mismatches(got, expected) == 0


@pytest.mark.parametrize("seed", range(10))
def test_softmax_matches_tflm(kernels, seed):
    rng = np.random.default_rng(seed)
    depth = int(rng.choice([1, 2, 3, 5, 10, 37]))
    shape = (1, int(rng.integers(1, 4)), int(rng.integers(1, 4)), depth)
    x_q = _q(rng, 0.01, 0.5)
    beta = float(rng.choice([1.0, 1.0 / 3, 0.5]))
    x = random_int8(rng, shape)
    expected = tflm(unary_model("SOFTMAX", shape, x_q, (1.0 / 256, -128), {"beta": beta}), [x])[0]
    got = kernels.softmax(x, qp.softmax_params(x_q[0], beta))
    assert _mismatches(got, expected) == 0


POOLS = [((1, 7, 7, 5), (2, 2), (2, 2), "VALID"), ((1, 7, 9, 3), (3, 3), (2, 2), "SAME"),
         ((2, 5, 4, 6), (3, 2), (1, 1), "SAME"), ((1, 1, 1, 7), (3, 3), (2, 2), "SAME"),
         ((1, 6, 6, 9), (6, 6), (1, 1), "VALID"),
         # Global pools as the MLPerf Tiny models have them (filter = stride = map), and DS-CNN's 24x5 window
         # on a 25x5 map (the last row is never read).
         ((1, 8, 8, 64), (8, 8), (8, 8), "VALID"), ((1, 3, 3, 256), (3, 3), (3, 3), "VALID"),
         ((1, 25, 5, 64), (24, 5), (24, 5), "VALID"), ((1, 2, 2, 32), (2, 2), (2, 2), "VALID"),
         # Strides 3 and 4 with SAME windows that overhang the map (fewer taps counted at the edges).
         ((1, 15, 15, 16), (4, 4), (4, 4), "SAME"), ((1, 15, 15, 16), (4, 4), (3, 3), "SAME"),
         ((1, 5, 5, 16), (3, 3), (3, 3), "SAME"), ((1, 24, 24, 16), (3, 3), (3, 3), "VALID"),
         ((1, 9, 7, 5), (1, 1), (3, 4), "SAME"), ((2, 11, 10, 3), (2, 5), (4, 3), "SAME")]


@pytest.mark.parametrize("case", POOLS, ids=str)
@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_pooling_matches_tflm(kernels, op, case):
    shape, filt, stride, padding = case
    rng = np.random.default_rng(len(shape) + filt[0] * 7 + stride[0])
    q = _q(rng)
    activation = {3: "RELU6", 4: "RELU"}.get(filt[0], "NONE")
    out_h, _ = qp.conv_padding(padding, shape[1], filt[0], stride[0])
    out_w, _ = qp.conv_padding(padding, shape[2], filt[1], stride[1])
    options = {"padding": padding, "stride_h": stride[0], "stride_w": stride[1], "filter_height": filt[0],
               "filter_width": filt[1], "fused_activation_function": activation}
    model = unary_model(op, shape, q, q, options, out_shape=(shape[0], out_h, out_w, shape[3]))
    x = random_int8(rng, shape)
    expected = tflm(model, [x])[0]
    pool = kernels.avgpool if op == "AVERAGE_POOL_2D" else kernels.maxpool
    got = pool(x, filt, stride, padding, qp.activation_range(activation, *q))
    assert _mismatches(got, expected) == 0


@pytest.mark.parametrize("seed", range(16))
def test_mean_matches_tflm(kernels, seed):
    rng = np.random.default_rng(seed)
    # Many channels: a wrong rounding shows up in a few of them only.
    hw = [(1, 1), (5, 7), (7, 7), (14, 14), (3, 1), (2, 2), (1, 6), (4, 4)][seed % 8]
    shape = (int(rng.integers(1, 3)), *hw, int(rng.integers(20, 64)))
    x_q, y_q = _q(rng), _q(rng) if seed % 2 else _q(rng)
    model = unary_model("MEAN", shape, x_q, y_q, {"keep_dims": True}, [("axis", [1, 2])],
                        out_shape=(shape[0], 1, 1, shape[3]))
    x = random_int8(rng, shape)
    expected = tflm(model, [x])[0]
    got = kernels.mean(x, [1, 2], qp.mean_params(*x_q, *y_q))
    assert _mismatches(got, expected) == 0


@pytest.mark.parametrize("axis", [1, 2, 3])
def test_concatenation_matches_tflm(kernels, axis):
    rng = np.random.default_rng(axis)
    q = _q(rng)
    shapes = []
    for size in (3, 1, 5):
        shape = [1, 4, 3, 6]
        shape[axis] = size
        shapes.append(tuple(shape))
    out_shape = list(shapes[0])
    out_shape[axis] = 9
    b = TFLiteBuilder("concat")
    ins = [b.add_tensor(f"x{i}", s, "int8", scale=q[0], zero_point=q[1]) for i, s in enumerate(shapes)]
    yi = b.add_tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.add_operator("CONCATENATION", ins, [yi], {"axis": axis})
    b.set_io(ins, [yi])
    xs = [random_int8(rng, s) for s in shapes]
    expected = tflm(b.build(), xs)[0]
    assert _mismatches(kernels.concat(xs, axis), expected) == 0


def test_slice_and_pad_match_tflm(kernels):
    rng = np.random.default_rng(3)
    q = _q(rng)
    x = random_int8(rng, (1, 7, 6, 5))
    begin, size = [0, 1, 2, 1], [1, 5, 3, 3]
    model = unary_model("SLICE", x.shape, q, q, None, [("begin", begin), ("size", size)], out_shape=size)
    assert _mismatches(kernels.slice(x, begin, size), tflm(model, [x])[0]) == 0
    paddings = [[0, 0], [1, 2], [0, 1], [2, 0]]
    out_shape = [s + a + b for s, (a, b) in zip(x.shape, paddings)]
    model = unary_model("PAD", x.shape, q, q, None, [("paddings", paddings)], out_shape=out_shape)
    got = kernels.pad(x, [p[0] for p in paddings], [p[1] for p in paddings], q[1])
    assert _mismatches(got, tflm(model, [x])[0]) == 0


def test_bad_shapes_are_error_codes(kernels):
    x = np.zeros((1, 4, 4, 3), dtype=np.int8)
    with pytest.raises(KernelError, match="FN_ERR_SHAPE"):
        kernels.slice(x, [0, 2, 0, 0], [1, 3, 4, 3])   # runs past the input
    with pytest.raises(KernelError, match="FN_ERR_SHAPE"):
        kernels.add(x, np.zeros((1, 2, 4, 3), dtype=np.int8), {**qp.add_params(0.1, 0, 0.1, 0, 0.1, 0),
                                                               "act_min": -128, "act_max": 127})
