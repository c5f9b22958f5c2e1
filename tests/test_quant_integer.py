"""QuantizedModel.integer_mode() against TFLite Micro, bit for bit: one op pattern per model
(quantized by the project's own PTQ on real Fashion-MNIST images, exported as QDQ ONNX, converted
by our converter, run in TFLM's interpreter), then a whole registry FlyNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from flynet_tiny.convert.onnx_export import export_qdq_onnx
from flynet_tiny.convert.to_tflite import convert_qdq_onnx
from flynet_tiny.verify.agreement import TFLM, TORCH_INT, verify
from flynet_tiny.models import SqueezeExcite, VarianceECA
from flynet_tiny.quant import quantize_model
from flynet_tiny.tflite import read_tflite
from quant_models import MaxOutHeads, fashion_images, registry_flynet

SIZE = 16


def three_channels(images: torch.Tensor) -> torch.Tensor:
    """Real pixels in three different channels (depthwise and channel attention need C > 1)."""
    return torch.cat([images, -images, images.flip(-1)], dim=1)


def integer_mode_vs_tflm(model: nn.Module, tmp_path, channels: int = 3, samples: int = 16, size: int = SIZE):
    """(report, TFLite op counts) after asserting integer mode == TFLM on every output value."""
    def inputs(split: str, count: int) -> torch.Tensor:
        images = fashion_images(count, split, input_size=size)
        return three_channels(images) if channels == 3 else images

    qmodel = quantize_model(model.eval(), [inputs("train", 32)], num_samples=32, progress=False)
    export_qdq_onnx(qmodel, tmp_path / "model_qdq.onnx")
    model_bytes = convert_qdq_onnx(tmp_path / "model_qdq.onnx")
    report = verify(model_bytes, None, qmodel, inputs("test", samples).numpy(), measure_arena=False)
    (integer,), (tflm,) = report.outputs[TORCH_INT], report.outputs[TFLM]  # the model's one output
    assert integer.shape == tflm.shape
    differing = int(np.sum(integer != tflm))
    assert differing == 0, f"{differing} int8 outputs differ between integer mode and TFLM"
    return report, read_tflite(model_bytes).op_counts()


class Body(nn.Module):
    """A model whose forward is a function of (self, x), with `layers` as submodules."""

    def __init__(self, body, **layers: nn.Module):
        super().__init__()
        self.layers = nn.ModuleDict(layers)
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.layers, x)


@pytest.mark.parametrize("kernel,stride", [(1, 1), (3, 1), (3, 2)])
def test_conv_with_fused_relu(tmp_path, kernel, stride):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, kernel, stride, kernel // 2), nn.ReLU())
    _, ops = integer_mode_vs_tflm(model, tmp_path)
    assert "CONV_2D" in ops


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise(tmp_path, stride):
    torch.manual_seed(1)
    _, ops = integer_mode_vs_tflm(nn.Sequential(nn.Conv2d(3, 3, 3, stride, 1, groups=3)), tmp_path)
    assert "DEPTHWISE_CONV_2D" in ops


@pytest.mark.parametrize("heads", [2, 3])
def test_mdw_max_out(tmp_path, heads):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 3 * heads, 3, 1, 1, groups=3), MaxOutHeads(heads))
    _, ops = integer_mode_vs_tflm(model, tmp_path)
    assert {"DEPTHWISE_CONV_2D", "REDUCE_MAX"} <= set(ops)


@pytest.mark.parametrize("gate", ["sigmoid", "softmax"])
def test_variance_eca(tmp_path, gate):
    """MEAN, SQUARED_DIFFERENCE, the channel conv, LOGISTIC or SOFTMAX (with a temperature: MUL by a
    constant), MUL by the gate."""
    torch.manual_seed(3)
    eca = VarianceECA(6, heads=3, kernel_size=3, gate=gate)
    eca.set_temperature(2.0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, 1, 1), eca)
    _, ops = integer_mode_vs_tflm(model, tmp_path)
    assert {"MEAN", "SQUARED_DIFFERENCE", "MUL", "LOGISTIC" if gate == "sigmoid" else "SOFTMAX"} <= set(ops)


def test_hard_swish(tmp_path):
    torch.manual_seed(4)
    _, ops = integer_mode_vs_tflm(nn.Sequential(nn.Conv2d(3, 6, 1), nn.Hardswish()), tmp_path)
    assert "HARD_SWISH" in ops


def test_squeeze_excite(tmp_path):
    """Global MEAN, 1x1 convs, hard-sigmoid as ADD + fused RELU6 then MUL by 1/6, MUL by the gate."""
    torch.manual_seed(5)
    _, ops = integer_mode_vs_tflm(nn.Sequential(nn.Conv2d(3, 8, 1), SqueezeExcite(8, 4)), tmp_path)
    assert {"MEAN", "ADD", "MUL"} <= set(ops)


def test_average_pool_and_linear(tmp_path):
    torch.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    _, ops = integer_mode_vs_tflm(model, tmp_path)
    assert {"AVERAGE_POOL_2D", "FULLY_CONNECTED"} <= set(ops)


def test_residual_add_sub_and_standalone_relu(tmp_path):
    """ADD and SUB of two quantized tensors; a ReLU after a concatenation is its own RELU op."""
    torch.manual_seed(7)

    def body(layers, x):
        y = layers["conv"](x)
        return torch.relu(torch.cat([x + y, x - y], dim=1))
    _, ops = integer_mode_vs_tflm(Body(body, conv=nn.Conv2d(3, 3, 3, 1, 1)), tmp_path)
    assert {"ADD", "SUB", "RELU"} <= set(ops)


def test_registry_flynet_whole_model(tmp_path):
    """Every pattern chained (flynet-h3-0.25, random init, calibrated on real images)."""
    report, ops = integer_mode_vs_tflm(registry_flynet("flynet-h3-0.25"), tmp_path, channels=1, size=32)
    assert {"DEPTHWISE_CONV_2D", "SQUARED_DIFFERENCE", "SOFTMAX", "HARD_SWISH"} <= set(ops)
    pair = next(p for p in report.pairs if (p.a, p.b) == (TORCH_INT, TFLM))
    assert pair.top1_agreement == 1.0 and pair.max_int8_diff == 0
