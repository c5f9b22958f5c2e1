"""Requantization edge cases, TFLM-identical parameter preparation, and odd / tiny shapes."""

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.codegen.host_kernels import KernelError
from oneop_models import conv_model, random_int8, tflm

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def tflite_mbqm(x: int, multiplier: int, shift: int) -> int:
    """TFLite's definition, written the way gemmlowp writes it (nudge, truncating division)."""
    left, right = max(shift, 0), max(-shift, 0)
    a, b = _wrap32(x * (1 << left)), multiplier
    if a == b == INT32_MIN:
        high = INT32_MAX
    else:
        ab = a * b
        nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
        total = ab + nudge
        high = _wrap32(abs(total) // (1 << 31) * (1 if total >= 0 else -1))
    mask = (1 << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if remainder > threshold else 0)


def test_requantization_matches_tflite_definition_on_edges_and_random_values(kernels):
    edges = [0, 1, -1, 2, -2, 3, -3, 5, -5, 1 << 30, -(1 << 30), INT32_MAX, INT32_MIN, INT32_MIN + 1, 12345, -12345]
    multipliers = [1 << 30, (1 << 31) - 1, INT32_MIN, 1518500250, 1073741825, 0]
    shifts = [-31, -20, -8, -1, 0, 1, 3]
    cases = [(x, m, s) for x in edges for m in multipliers for s in shifts]
    rng = np.random.default_rng(0)
    cases += [(int(rng.integers(INT32_MIN, INT32_MAX)), int(rng.integers(1 << 30, 1 << 31)), int(rng.integers(-31, 2)))
              for _ in range(3000)]
    mismatches = [(x, m, s) for x, m, s in cases
                  if kernels.multiply_by_quantized_multiplier(x, m, s) != tflite_mbqm(x, m, s)]
    assert mismatches == []


def test_rounding_of_negative_ties_and_saturation(kernels):
    half = 1 << 30  # 0.5 as a Q31 multiplier
    assert kernels.multiply_by_quantized_multiplier(INT32_MIN, INT32_MIN, 0) == INT32_MAX
    assert kernels.multiply_by_quantized_multiplier(5, half, 0) == 3     # 2.5 rounds up
    assert kernels.multiply_by_quantized_multiplier(-5, half, 0) == -2   # -2.5: high-mul rounds ties up
    assert kernels.multiply_by_quantized_multiplier(-10, half, -1) == -3  # -2.5: the shift rounds ties away from 0
    assert kernels.multiply_by_quantized_multiplier(10, half, -1) == 3


def test_quantize_multiplier_matches_frexp_definition():
    assert qp.quantize_multiplier(0.0) == (0, 0)
    assert qp.quantize_multiplier(0.5) == (1 << 30, 0)
    assert qp.quantize_multiplier(1.0) == (1 << 30, 1)
    assert qp.quantize_multiplier(2.0**-40) == (0, 0)             # below 2^-31: flushed to zero
    assert qp.quantize_multiplier(1.0 - 2.0**-40) == (1 << 30, 1)  # rounds up to 2^31: halved, shift + 1
    for real in np.random.default_rng(1).uniform(1e-6, 100.0, 500):
        m, s = qp.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - real) <= real * 2.0**-30


def test_tflite_round_goes_away_from_zero():
    assert [qp.tflite_round(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4999, -2.4999)] == [1, 2, 3, -1, -3, 2, -2]


@pytest.mark.parametrize("kind", ["conv", "depthwise", "mdw"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 1, 1, 7), (1, 2, 1, 3), (1, 1, 3, 5), (3, 3, 3, 1)], ids=str)
def test_tiny_and_odd_feature_maps_match_tflm(kernels, kind, shape):
    rng = np.random.default_rng(sum(shape) + len(kind))
    for stride, padding in [((1, 1), "SAME"), ((2, 2), "SAME"), ((2, 1), "VALID")]:
        k = (3, 3) if padding == "SAME" else (1, 1)
        model, inputs, info = conv_model(rng, kind, shape, k, 3, stride, padding, heads=3)
        expected = tflm(model, inputs)[0]
        mult, shift = qp.conv_channel_quant(info["x_scale"], info["w_scales"], info["y_scale"])
        common = dict(multiplier=mult, shift=shift, stride=stride, padding=padding, input_offset=-info["x_zp"],
                      output_offset=info["y_zp"])
        if kind == "conv":
            got = kernels.conv2d(inputs[0], info["weights"], info["bias"], **common)
        elif kind == "depthwise":
            got = kernels.depthwise_conv2d(inputs[0], info["weights"], info["bias"], depth_multiplier=3, **common)
        else:
            got = kernels.mdw_maxout(inputs[0], info["weights"], info["bias"], heads=3, **common)
        assert np.count_nonzero(got != expected) == 0


def test_odd_sizes_through_every_elementwise_kernel(kernels):
    rng = np.random.default_rng(9)
    for shape in [(1, 1, 1, 1), (1, 3, 5, 7), (2, 1, 1, 13)]:
        x = random_int8(rng, shape)
        assert kernels.hard_swish(x, qp.hard_swish_params(0.05, 3, 0.04, -7)).shape == shape
        assert kernels.logistic(x, qp.logistic_params(0.05, 3)).shape == shape
        assert kernels.softmax(x, qp.softmax_params(0.05)).shape == shape
        assert kernels.mean_hw(x, qp.mean_params(0.05, 3, 0.04, 1)).shape == (shape[0], 1, 1, shape[3])
        assert kernels.maxpool(x, (3, 3), (2, 2), "SAME").shape[1:3] == ((shape[1] + 1) // 2, (shape[2] + 1) // 2)
        assert kernels.pad(x, [0, 1, 0, 2], [0, 0, 1, 1], -5).shape == (shape[0], shape[1] + 1, shape[2] + 1,
                                                                         shape[3] + 3)


def test_softmax_with_every_element_below_diff_min_gives_the_floor(kernels):
    """A diff_min above 0 (outside TFLM's domain) leaves no element in the sum: every output is -128, and
    the reciprocal of the zero sum shifts by nothing past 31 bits (the sanitized run checks that)."""
    x = random_int8(np.random.default_rng(4), (2, 1, 1, 9))
    params = {**qp.softmax_params(0.05), "diff_min": 1}
    assert np.all(kernels.softmax(x, params) == -128)


def test_wrong_output_geometry_is_a_shape_error(kernels):
    x = np.zeros((1, 5, 5, 3), np.int8)
    with pytest.raises(KernelError, match="FN_ERR_SHAPE"):
        kernels.avgpool(x, (7, 7), (1, 1), "VALID")  # a window larger than the map leaves no output
