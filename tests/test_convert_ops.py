"""Each op pattern converted alone: a one-layer QDQ model -> our converter -> TFLM, compared with
the PyTorch fake-quant output it came from and with LiteRT's reference kernels."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convert_helpers import PROBABILITY, OneLayer, assert_converted, layer_after


@pytest.mark.parametrize("kernel,stride,size", [(1, 1, 8), (3, 1, 8), (3, 2, 8), (3, 2, 7), (5, 2, 9)])
def test_conv2d(tmp_path, kernel, stride, size):
    conv = nn.Conv2d(3, 6, kernel, stride, kernel // 2)
    model = OneLayer(lambda m, x: m.q(0, torch.relu(m.layers["conv"](x))), layers={"conv": conv})
    ops = assert_converted(model, (1, 3, size, size), tmp_path, {"CONV_2D"})
    # PyTorch pads symmetrically; TFLite's SAME pads after only when the size is even at stride 2.
    assert ("PAD" in ops) == (stride == 2 and kernel > 1 and size % 2 == 0)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise(tmp_path, stride):
    conv = nn.Conv2d(4, 4, 3, stride, 1, groups=4)
    model = OneLayer(lambda m, x: m.q(0, m.layers["dw"](x)), layers={"dw": conv})
    assert_converted(model, (1, 4, 9, 9), tmp_path, {"DEPTHWISE_CONV_2D"})


@pytest.mark.parametrize("heads", [2, 3, 4, 5])
def test_mdw_maxout(tmp_path, heads):
    conv = nn.Conv2d(4, 4 * heads, 3, 1, 1, groups=4)

    def body(m, x):
        y = m.layers["mdw"](x)  # quantized once, after the max: max-out keeps its input's grid
        return m.q(0, y.unflatten(1, (-1, heads)).amax(dim=2))

    ops = assert_converted(OneLayer(body, layers={"mdw": conv}), (1, 4, 6, 6), tmp_path,
                           {"DEPTHWISE_CONV_2D", "RESHAPE", "REDUCE_MAX"})
    assert ops == {"DEPTHWISE_CONV_2D": 1, "RESHAPE": 1, "REDUCE_MAX": 1}


def _variance_eca(gate: str, heads: int):
    def body(m, x):
        mean = m.q(0, x.mean(dim=(2, 3), keepdim=True))
        centered = x - mean  # not quantized: SQUARED_DIFFERENCE computes (x - mean)^2 inside
        variance = m.q(1, m.q(7, centered * centered).mean(dim=(2, 3), keepdim=True))
        stats = m.q(2, torch.cat([mean, variance], dim=2)).flatten(2).transpose(1, 2)
        scores = m.q(3, layer_after(m, "eca", 2)(stats)).flatten(1)
        if gate == "softmax":
            weights = m.q(5, torch.softmax(m.q(4, scores.unflatten(1, (-1, heads)) * (1 / 3.0)), dim=2)).flatten(1)
        else:
            weights = m.q(5, torch.sigmoid(scores))
        return m.q(6, x * weights.unsqueeze(2).unsqueeze(3))
    return body


@pytest.mark.parametrize("gate", ["sigmoid", "softmax"])
def test_variance_eca(tmp_path, gate):
    model = OneLayer(_variance_eca(gate, 3), n_quant=8, layers={"eca": nn.Conv1d(2, 1, 5, padding=2, bias=False)},
                     fixed={5: PROBABILITY})
    ops = assert_converted(model, (1, 6, 5, 5), tmp_path,
                           {"MEAN", "SQUARED_DIFFERENCE", "CONCATENATION", "CONV_2D", "MUL",
                            "LOGISTIC" if gate == "sigmoid" else "SOFTMAX"})
    assert "SUB" not in ops


def test_light_residual_crop(tmp_path):
    """More input than output channels: the residual adds the first C_out input channels."""
    conv = nn.Conv2d(6, 4, 1)

    def body(m, x):
        return m.q(1, m.q(0, m.layers["pw"](x)) + x[:, :4])
    assert_converted(OneLayer(body, n_quant=2, layers={"pw": conv}), (1, 6, 5, 5), tmp_path,
                     {"STRIDED_SLICE", "ADD", "CONV_2D"})


def test_light_residual_concat(tmp_path):
    """Fewer input than output channels: the shortfall comes from a depthwise conv, concatenated."""
    conv = nn.Conv2d(4, 2, 3, 1, 1, groups=2)

    def body(m, x):
        extra = m.q(0, m.layers["dw"](x[:, :2]))
        return m.q(1, torch.cat([x, extra], dim=1))
    assert_converted(OneLayer(body, n_quant=2, layers={"dw": nn.Conv2d(2, 2, 3, 1, 1, groups=2)}),
                     (1, 4, 5, 5), tmp_path, {"CONCATENATION", "DEPTHWISE_CONV_2D"})


def test_hard_swish(tmp_path):
    model = OneLayer(lambda m, x: m.q(0, nn.functional.hardswish(x)))
    assert_converted(model, (1, 3, 4, 4), tmp_path, {"HARD_SWISH"})


def test_average_pool(tmp_path):
    # Pools keep their input's grid (the quantizer's rule): the same quantizer on both sides.
    model = OneLayer(lambda m, x: m.input_quant(nn.functional.avg_pool2d(x, 2)))
    assert_converted(model, (1, 3, 6, 6), tmp_path, {"AVERAGE_POOL_2D"})


def test_global_average_pool(tmp_path):
    model = OneLayer(lambda m, x: m.q(0, nn.functional.adaptive_avg_pool2d(x, 1)))
    assert_converted(model, (1, 3, 6, 6), tmp_path, {"MEAN"})


def test_linear_after_spatial_flatten(tmp_path):
    """Flattening C x H x W in NCHW order: the FC weight columns are permuted, no TRANSPOSE."""
    model = OneLayer(lambda m, x: m.q(0, m.layers["fc"](torch.flatten(x, 1))), layers={"fc": nn.Linear(3 * 3 * 3, 5)})
    assert_converted(model, (1, 3, 3, 3), tmp_path, {"FULLY_CONNECTED", "RESHAPE"})


@pytest.mark.parametrize("groups,kernel", [(2, 1), (4, 1), (3, 3)])
def test_grouped_conv_is_one_conv_2d_with_a_shallow_filter(tmp_path, groups, kernel):
    """groups neither 1 nor C_in: one CONV_2D whose filter holds C_in / groups input channels."""
    conv = nn.Conv2d(12, 24, kernel, 1, kernel // 2, groups=groups)
    model = OneLayer(lambda m, x: m.q(0, m.layers["conv"](x)), layers={"conv": conv})
    ops = assert_converted(model, (1, 12, 5, 5), tmp_path, {"CONV_2D"})
    assert ops == {"CONV_2D": 1}


def test_maximum_of_two_tensors_on_one_grid(tmp_path):
    def body(m, x):
        a, b = m.q(0, x * 0.5), m.q(0, torch.cat([x[:, 2:], x[:, :2]], dim=1))  # one grid for all three
        return m.q(0, torch.maximum(a, b))
    ops = assert_converted(OneLayer(body), (1, 3, 4, 4), tmp_path, {"MAXIMUM"})
    assert ops["MAXIMUM"] == 1


def test_concatenation_of_more_inputs_than_tflm_takes(tmp_path):
    """TFLM's CONCATENATION takes at most 10 inputs: 23 slices become runs of 10, 10, 3, then one of 3."""
    def body(m, x):
        return m.input_quant(torch.cat([x[:, i:i + 1] for i in reversed(range(23))], dim=1))
    ops = assert_converted(OneLayer(body), (1, 23, 3, 3), tmp_path, {"CONCATENATION"})
    assert ops["CONCATENATION"] == 4

