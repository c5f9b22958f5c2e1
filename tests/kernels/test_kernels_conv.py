"""Convolution kernels (conv, depthwise, fused MDW + Max-out) bit-exact with TFLite Micro."""

import zlib

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.codegen.host_kernels import KernelError
from oneop_models import conv_model, tflm, transpose_conv_model


def _run_host(kernels, kind, x, info):
    mult, shift = qp.conv_channel_quant(info["x_scale"], info["w_scales"], info["y_scale"])
    act = qp.activation_range(info["activation"], info["y_scale"], info["y_zp"])
    common = dict(multiplier=mult, shift=shift, stride=info["stride"], padding=info["padding"],
                  dilation=info["dilation"], input_offset=-info["x_zp"], output_offset=info["y_zp"], act=act)
    if kind == "conv":
        return kernels.conv2d(x, info["weights"], info["bias"], **common)
    if kind == "depthwise":
        return kernels.depthwise_conv2d(x, info["weights"], info["bias"], depth_multiplier=info["heads"], **common)
    return kernels.mdw_maxout(x, info["weights"], info["bias"], heads=info["heads"], **common)


CONV_CASES = [  # in_shape, kernel, out_channels, stride, padding, activation
    ((1, 7, 9, 3), (3, 3), 5, (2, 2), "SAME", "NONE"),
    ((1, 8, 8, 6), (1, 1), 7, (1, 1), "VALID", "RELU6"),
    ((1, 5, 6, 13), (1, 1), 10, (2, 2), "SAME", "NONE"),
    ((1, 6, 5, 4), (3, 3), 9, (1, 1), "VALID", "RELU"),
    ((2, 9, 7, 5), (5, 5), 3, (2, 1), "SAME", "NONE"),
    ((1, 1, 1, 11), (3, 3), 4, (1, 1), "SAME", "NONE"),
    ((1, 4, 4, 8), (1, 1), 16, (1, 1), "SAME", "NONE"),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-k{c[1][0]}s{c[3][0]}{c[4]}")
def test_conv2d_matches_tflm(kernels, case):
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    in_shape, k, oc, stride, padding, act = case
    for with_bias in (True, False):
        model, inputs, info = conv_model(rng, "conv", in_shape, k, oc, stride, padding, activation=act,
                                         with_bias=with_bias)
        expected = tflm(model, inputs)[0]
        got = _run_host(kernels, "conv", inputs[0], info)
        assert got.shape == expected.shape
        assert np.count_nonzero(got != expected) == 0


def _random_dw_case(rng):
    """A random depthwise geometry: odd sizes, 1x1 maps, channels not a multiple of 4, h = 1..5."""
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    c = int(rng.choice([1, 3, 5, 6, 7, 10]))
    k = int(rng.choice([1, 3, 5]))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = str(rng.choice(["SAME", "VALID"]))
    if padding == "VALID" and (h < k or w < k):
        padding = "SAME"
    heads = int(rng.integers(1, 6))
    activation = str(rng.choice(["NONE", "RELU", "RELU6"]))
    return (int(rng.integers(1, 3)), h, w, c), (k, k), stride, padding, heads, activation


@pytest.mark.parametrize("kind", ["depthwise", "mdw"])
@pytest.mark.parametrize("seed", range(12))
def test_depthwise_and_mdw_match_tflm(kernels, kind, seed):
    rng = np.random.default_rng(1000 * seed + (kind == "mdw"))
    in_shape, k, stride, padding, heads, activation = _random_dw_case(rng)
    # TFLM's depthwise kernel crashes on a missing bias, so the TFLM comparison always carries one.
    model, inputs, info = conv_model(rng, kind, in_shape, k, 0, stride, padding, heads=heads, activation=activation)
    expected = tflm(model, inputs)[0]
    got = _run_host(kernels, kind, inputs[0], info)
    assert got.shape == expected.shape
    assert np.count_nonzero(got != expected) == 0


@pytest.mark.parametrize("kind", ["conv", "depthwise", "mdw"])
@pytest.mark.parametrize("seed", range(6))
def test_explicit_padding_matches_pad_then_valid_conv_in_tflm(kernels, kind, seed):
    """FN_PADDING_EXPLICIT equals TFLM's PAD (input zero point) + VALID conv, for any pads below the kernel."""
    rng = np.random.default_rng(500 + seed + 10 * len(kind))
    k = (int(rng.choice([3, 5])), int(rng.choice([3, 5])))
    pads = tuple(int(rng.integers(0, k[i // 2])) for i in range(4))
    in_shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.choice([1, 3, 4, 8])))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    if in_shape[1] + pads[0] + pads[1] < k[0] or in_shape[2] + pads[2] + pads[3] < k[1]:
        pads = (k[0] - 1, k[0] - 1, k[1] - 1, k[1] - 1)  # VALID needs the padded map to hold one window
    heads = int(rng.integers(2, 4)) if kind == "mdw" else int(rng.integers(1, 3))
    model, inputs, info = conv_model(rng, kind, in_shape, k, int(rng.integers(1, 9)), stride, pads, heads=heads,
                                     activation=str(rng.choice(["NONE", "RELU6"])))
    expected = tflm(model, inputs)[0]
    got = _run_host(kernels, kind, inputs[0], info)
    assert got.shape == expected.shape
    assert np.count_nonzero(got != expected) == 0


@pytest.mark.parametrize("seed", range(8))
def test_random_conv_matches_tflm(kernels, seed):
    rng = np.random.default_rng(77 + seed)
    in_shape, k, stride, padding, _, activation = _random_dw_case(rng)
    oc = int(rng.integers(1, 12))
    model, inputs, info = conv_model(rng, "conv", in_shape, k, oc, stride, padding, activation=activation,
                                     with_bias=bool(seed % 2))
    expected = tflm(model, inputs)[0]
    got = _run_host(kernels, "conv", inputs[0], info)
    assert np.count_nonzero(got != expected) == 0


def test_mdw_output_is_c_bytes_per_pixel_and_needs_no_scratch(kernels):
    x_shape, heads, channels = (1, 14, 14, 24), 3, 24
    w_shape = (1, 3, 3, channels * heads)
    assert kernels.conv_scratch_bytes("mdw", x_shape, w_shape) == 0
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=x_shape).astype(np.int8)
    w = rng.integers(-127, 128, size=w_shape).astype(np.int8)
    ones = np.full(channels * heads, 1 << 30, dtype=np.int32)
    y = kernels.mdw_maxout(x, w, None, heads=heads, multiplier=ones, shift=np.zeros_like(ones))
    assert y.nbytes == 14 * 14 * channels  # C bytes per pixel, not C * h
    full = kernels.depthwise_conv2d(x, w, None, depth_multiplier=heads, multiplier=ones, shift=np.zeros_like(ones))
    assert full.nbytes == 14 * 14 * channels * heads
    assert np.array_equal(y, full.reshape(1, 14, 14, channels, heads).max(axis=-1))
    zero_bias = np.zeros(channels * heads, dtype=np.int32)
    assert np.array_equal(y, kernels.mdw_maxout(x, w, zero_bias, heads=heads, multiplier=ones,
                                                shift=np.zeros_like(ones)))


def _random_geometry(rng, kind):
    """Any filter (non-square, H x 1, 1 x N), stride 1..4 and dilation 1..3 per axis, SAME or VALID (where the
    dilated filter fits), heads 1..3, and depthwise layers on one input channel with many heads (micro_speech's
    10x8 with 8 heads; 20 heads, past the plane paths' 16)."""
    k = (int(rng.integers(1, 11)), int(rng.integers(1, 9)))
    if rng.random() < 0.3:
        k = (k[0], 1) if rng.random() < 0.5 else (1, k[1])
    stride = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    dilation = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.5 else (1, 1)
    h, w = int(rng.integers(1, 26)), int(rng.integers(1, 21))
    c = int(rng.choice([1, 2, 3, 4, 5, 8, 12]))
    heads = 1 if kind == "conv" else int(rng.integers(1, 4))
    if kind == "depthwise" and rng.random() < 0.3:
        c, heads = 1, int(rng.choice([8, 20]))
    span = ((k[0] - 1) * dilation[0] + 1, (k[1] - 1) * dilation[1] + 1)
    padding = "VALID" if rng.random() < 0.4 and h >= span[0] and w >= span[1] else "SAME"
    activation = str(rng.choice(["NONE", "RELU", "RELU6"]))
    return (int(rng.integers(1, 3)), h, w, c), k, stride, dilation, padding, heads, activation


@pytest.mark.parametrize("kind", ["conv", "depthwise", "mdw"])
@pytest.mark.parametrize("seed", range(16))
def test_any_filter_stride_and_dilation_match_tflm(kernels, kind, seed):
    rng = np.random.default_rng(9000 + 100 * seed + len(kind))
    in_shape, k, stride, dilation, padding, heads, activation = _random_geometry(rng, kind)
    model, inputs, info = conv_model(rng, kind, in_shape, k, int(rng.integers(1, 10)), stride, padding, heads=heads,
                                     activation=activation, dilation=dilation)
    expected = tflm(model, inputs)[0]
    got = _run_host(kernels, kind, inputs[0], info)
    assert got.shape == expected.shape
    assert np.count_nonzero(got != expected) == 0, (in_shape, k, stride, dilation, padding, heads)


@pytest.mark.parametrize("kind", ["conv", "depthwise", "mdw"])
@pytest.mark.parametrize("bad", [{"dilation": (0, 1)}, {"stride": (1, 0)}, {"stride": (-1, 1)}])
def test_invalid_stride_or_dilation_is_an_argument_error(kernels, kind, bad):
    x = np.zeros((1, 8, 8, 4), dtype=np.int8)
    w_shape = (5, 3, 3, 4) if kind == "conv" else (1, 3, 3, 8)
    w = np.zeros(w_shape, dtype=np.int8)
    channels = w_shape[0] if kind == "conv" else 8
    q = dict(multiplier=np.full(channels, 1 << 30, dtype=np.int32), shift=np.zeros(channels, dtype=np.int32),
             padding="VALID", **bad)
    with pytest.raises(KernelError) as error:
        if kind == "conv":
            kernels.conv2d(x, w, None, **q)
        elif kind == "depthwise":
            kernels.depthwise_conv2d(x, w, None, depth_multiplier=2, **q)
        else:
            kernels.mdw_maxout(x, w, None, heads=2, **q)
    assert error.value.status == "FN_ERR_ARGUMENT"


def _run_host_transpose(kernels, x, info):
    mult, shift = qp.conv_channel_quant(info["x_scale"], info["w_scales"], info["y_scale"])
    return kernels.transpose_conv2d(x, info["weights"], info["bias"], out_hw=info["out_hw"], multiplier=mult,
                                    shift=shift, stride=info["stride"], padding=info["padding"],
                                    input_offset=-info["x_zp"], output_offset=info["y_zp"],
                                    act=qp.activation_range(info["activation"], info["y_scale"], info["y_zp"]))


TRANSPOSE_CASES = [  # in_shape, kernel, out_channels, stride, padding, output size (None: TFLite's default)
    ((1, 8, 8, 64), (3, 3), 32, (2, 2), "SAME", None),  # the segmentation head's decoder layer
    ((1, 4, 5, 3), (3, 2), 5, (2, 3), "VALID", None),
    ((2, 3, 3, 7), (4, 4), 6, (2, 2), "SAME", None),
    ((1, 5, 4, 4), (5, 3), 3, (3, 1), "SAME", (14, 4)),  # an output smaller than in * stride (output_padding)
    ((1, 3, 6, 9), (2, 2), 4, (2, 2), "VALID", None),  # kernel = stride: each output pixel has one tap
    ((1, 6, 6, 2), (1, 1), 3, (1, 1), "SAME", None),
    ((1, 2, 2, 5), (3, 3), 1, (4, 4), "VALID", (9, 10)),  # stride above the kernel: outputs with no tap
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-k{c[1][0]}x{c[1][1]}s{c[3][0]}{c[4]}")
def test_transpose_conv_matches_tflm(kernels, case):
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    in_shape, k, oc, stride, padding, out_hw = case
    for with_bias, activation in ((True, "NONE"), (False, "RELU6"), (True, "RELU")):
        model, inputs, info = transpose_conv_model(rng, in_shape, k, oc, stride, padding, out_hw=out_hw,
                                                   activation=activation, with_bias=with_bias)
        expected = tflm(model, inputs)[0]
        got = _run_host_transpose(kernels, inputs[0], info)
        assert got.shape == expected.shape
        assert np.count_nonzero(got != expected) == 0, (with_bias, activation)


def test_transpose_conv_needs_no_scratch_and_checks_its_arguments(kernels):
    assert kernels.lib.fn_transpose_conv2d_s8_get_buffer_size(None, None) == 0
    x = np.zeros((1, 4, 4, 2), dtype=np.int8)
    w = np.zeros((3, 3, 3, 2), dtype=np.int8)
    ones = np.full(3, 1 << 30, dtype=np.int32)
    with pytest.raises(KernelError) as error:
        kernels.transpose_conv2d(x, w, None, out_hw=(8, 8), multiplier=ones, shift=np.zeros(3, np.int32),
                                 stride=(0, 2))
    assert error.value.status == "FN_ERR_ARGUMENT"
    with pytest.raises(KernelError) as error:
        kernels.transpose_conv2d(x, np.zeros((3, 3, 3, 5), np.int8), None, out_hw=(8, 8), multiplier=ones,
                                 shift=np.zeros(3, np.int32), stride=(2, 2))
    assert error.value.status == "FN_ERR_SHAPE"
