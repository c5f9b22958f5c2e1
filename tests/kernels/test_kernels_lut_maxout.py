"""fn_lut_s8 (HARD_SWISH / LOGISTIC as a clamped table the generator fills with the fixed-point kernels) and
fn_maxout_s8 (max over each channel's adjacent heads), bit-exact with TFLite Micro one-op models."""

import ctypes

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.codegen.host_kernels import table_inputs, trimmed_table
from oneop_models import random_int8, random_scale, random_zero_point, tflm, unary_model

# Sizes around the 4-value word loop: no whole word, words plus 1..3 left, a feature map.
SIZES = [(1, 1, 1, 3), (1, 1, 1, 4), (1, 1, 3, 3), (1, 2, 3, 5), (1, 3, 5, 7)]


def _tables(kernels, seed):
    """(op, x quantization, y quantization, lo, table) for HARD_SWISH and LOGISTIC on random grids."""
    rng = np.random.default_rng(seed)
    hs_x = (random_scale(rng, 0.01, 0.2), random_zero_point(rng))
    hs_y = (random_scale(rng, hs_x[0] / 64, hs_x[0] * 2), random_zero_point(rng))
    lg_x = (random_scale(rng, 0.002, 0.5), random_zero_point(rng))
    lg_y = (1.0 / 256, -128)
    found = []
    for op, x_q, y_q, values in (
            ("HARD_SWISH", hs_x, hs_y, kernels.hard_swish(table_inputs(), qp.hard_swish_params(*hs_x, *hs_y))),
            ("LOGISTIC", lg_x, lg_y, kernels.logistic(table_inputs(), qp.logistic_params(*lg_x)))):
        lo, hi, table = trimmed_table(values)
        assert table.size == hi - lo + 1
        found.append((op, x_q, y_q, lo, table))
    return found


def test_trimmed_table_leaves_out_the_constant_ends():
    values = np.array([-5] * 40 + list(range(-4, 100)) + [100] * 112, dtype=np.int8)
    lo, hi, table = trimmed_table(values)
    assert (lo, hi) == (-128 + 39, -128 + 40 + 104) and table.tolist() == [-5] + list(range(-4, 101))
    lo, hi, table = trimmed_table(np.full(256, 7, dtype=np.int8))
    assert (lo, hi, table.tolist()) == (-128, -128, [7])
    lo, hi, table = trimmed_table(table_inputs())  # nothing constant: the whole range
    assert (lo, hi) == (-128, 127) and np.array_equal(table, table_inputs())


@pytest.mark.parametrize("lo, hi", [(-128, 127), (-20, 35), (5, 5), (-128, -100), (90, 127)])
def test_lut_clamps_to_the_table(kernels, lo, hi):
    """Every input value, every lane position and tail length: identity on lo..hi, clamped outside."""
    table = np.arange(lo, hi + 1, dtype=np.int16).astype(np.int8)
    x = np.concatenate([table_inputs(), table_inputs()[::-1], table_inputs()[:3]]).reshape(1, -1)
    for start in range(4):
        got = kernels.lut(x[:, start:], lo, table)
        assert np.array_equal(got, np.clip(x[:, start:], lo, hi))


@pytest.mark.parametrize("seed", range(4))
def test_lut_matches_tflm_on_every_input(kernels, seed):
    x = table_inputs().reshape(1, 4, 8, 8)
    for op, x_q, y_q, lo, table in _tables(kernels, seed):
        expected = tflm(unary_model(op, x.shape, x_q, y_q), [x])[0]
        assert np.array_equal(kernels.lut(x, lo, table), expected), op


@pytest.mark.parametrize("shape", SIZES, ids=str)
def test_lut_matches_tflm_on_odd_sizes(kernels, shape):
    rng = np.random.default_rng(sum(shape))
    x = random_int8(rng, shape)
    for op, x_q, y_q, lo, table in _tables(kernels, len(shape) + shape[-1]):
        expected = tflm(unary_model(op, shape, x_q, y_q), [x])[0]
        assert np.array_equal(kernels.lut(x, lo, table), expected), op


# (map, channels, heads): the unrolled head counts 2 and 3, the generic loop (1, 4, 5), odd sizes.
MAXOUT_CASES = [((1, 3, 5), 7, 2), ((1, 4, 3), 5, 3), ((2, 3, 3), 9, 3), ((1, 2, 5), 3, 4), ((1, 3, 2), 6, 5),
                ((1, 2, 2), 3, 1), ((1, 1, 1), 1, 3)]


@pytest.mark.parametrize("case", MAXOUT_CASES, ids=str)
def test_maxout_matches_tflm_reduce_max(kernels, case):
    (n, h, w), channels, heads = case
    rng = np.random.default_rng(channels * heads)
    q = (random_scale(rng), random_zero_point(rng))
    shape5 = (n, h, w, channels, heads)
    x = random_int8(rng, shape5)
    model = unary_model("REDUCE_MAX", shape5, q, q, {"keep_dims": False}, extra_inputs=[("axis", [4])],
                        out_shape=shape5[:4])
    expected = tflm(model, [x])[0]
    got = kernels.maxout(x.reshape(n, h, w, channels * heads), heads)
    assert np.array_equal(got, expected)


def test_maxout_and_lut_refuse_bad_arguments(kernels):
    x = np.zeros((1, 6), dtype=np.int8)
    buffer = x.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
    assert kernels.status_name(kernels.lib.fn_maxout_s8(2, 0, buffer, buffer)) == "FN_ERR_ARGUMENT"
    assert kernels.status_name(kernels.lib.fn_maxout_s8(2, 3, None, buffer)) == "FN_ERR_ARGUMENT"
    for table, lo, hi in ((None, 0, 0), (buffer, -129, 0), (buffer, 0, 128), (buffer, 3, 2)):
        assert kernels.status_name(kernels.lib.fn_lut_s8(table, lo, hi, 6, buffer, buffer)) == "FN_ERR_ARGUMENT"
    with pytest.raises(ValueError, match="256 values"):
        trimmed_table(np.zeros(255, dtype=np.int8))
