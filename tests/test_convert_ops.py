"""Each op pattern converted alone: a one-layer QDQ model -> our converter -> TFLM, compared with
the PyTorch fake-quant output it came from and with LiteRT's reference kernels.

The one-layer models quantize themselves with torch's fake-quant ops (per-tensor activations
observed on the calibration batch, per-channel symmetric weights, biases on the int32 grid), which
export to ONNX as QuantizeLinear / DequantizeLinear, the same graph form the quantizer writes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from flynet_tiny.export.tflite import convert_qdq_onnx
from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import run_litert_reference, run_tflm_batch


class FakeQuant(nn.Module):
    """Observes min/max while calibrating, then fake-quantizes per tensor (TFLite int8 asymmetric)."""

    def __init__(self, fixed: tuple[float, int] | None = None):
        super().__init__()
        self.fixed = fixed
        self.calibrating = True
        self.lo, self.hi = 0.0, 0.0

    def qparams(self) -> tuple[float, int]:
        if self.fixed:
            return self.fixed
        scale = max(self.hi - self.lo, 1e-6) / 255.0
        return scale, int(np.clip(round(-128 - self.lo / scale), -128, 127))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.calibrating and not self.fixed:
            self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
            return x
        scale, zero_point = self.qparams()
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, -128, 127)


PROBABILITY = (1.0 / 256.0, -128)


class QLayer(nn.Module):
    """Conv1d / Conv2d / Linear with int8 weights (per channel except Linear) and an int32-grid bias."""

    def __init__(self, layer: nn.Module, input_quant: FakeQuant):
        super().__init__()
        self.layer = layer
        self.input_quant = input_quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.layer.weight
        if self.input_quant.calibrating:
            return self._apply(x, w, self.layer.bias)
        if isinstance(self.layer, nn.Linear):
            w_scale = (w.abs().max() / 127).clamp(min=1e-8)
            wq = torch.fake_quantize_per_tensor_affine(w, float(w_scale), 0, -128, 127)
        else:
            w_scale = (w.abs().flatten(1).amax(1) / 127).clamp(min=1e-8).detach()
            wq = torch.fake_quantize_per_channel_affine(w, w_scale, torch.zeros_like(w_scale, dtype=torch.int32),
                                                        0, -128, 127)
        bias = None
        if self.layer.bias is not None:
            bias_scale = (self.input_quant.qparams()[0] * w_scale).float()
            bias = (torch.round(self.layer.bias / bias_scale) * bias_scale).detach()
        return self._apply(x, wq, bias)

    def _apply(self, x, w, b):
        layer = self.layer
        if isinstance(layer, nn.Linear):
            return nn.functional.linear(x, w, b)
        conv = nn.functional.conv1d if isinstance(layer, nn.Conv1d) else nn.functional.conv2d
        return conv(x, w, b, layer.stride, layer.padding, layer.dilation, layer.groups)


class OneLayer(nn.Module):
    """Input fake-quant -> body(self, x) -> output fake-quant; `q(i)` adds an intermediate quantizer."""

    def __init__(self, body, n_quant: int = 1, layers: dict | None = None, fixed: dict | None = None):
        super().__init__()
        self.input_quant = FakeQuant()
        self.quants = nn.ModuleList(FakeQuant((fixed or {}).get(i)) for i in range(n_quant))
        self.layers = nn.ModuleDict({k: QLayer(v, self.input_quant) for k, v in (layers or {}).items()})
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self, self.input_quant(x))

    def q(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return self.quants[i](x)

    def finish_calibration(self) -> None:
        for m in self.modules():
            if isinstance(m, FakeQuant):
                m.calibrating = False


def layer_after(model: OneLayer, name: str, quant_index: int) -> QLayer:
    """Point a layer's bias scale at the quantizer that feeds it (not the model input)."""
    layer = model.layers[name]
    layer.input_quant = model.quants[quant_index]
    return layer


def convert_and_compare(model: OneLayer, input_shape, tmp_path, samples: int = 4, seed: int = 0):
    """Returns (max |TFLM - fake-quant| in int8 steps, TFLM == LiteRT-ref, op counts)."""
    torch.manual_seed(seed)
    model.eval()
    calib = torch.randn(16, *input_shape[1:]) * 1.5
    with torch.no_grad():
        model(calib)
    model.finish_calibration()
    path = tmp_path / "layer.onnx"
    torch.onnx.export(model, (calib[:1],), str(path), dynamo=False, opset_version=17)
    model_bytes = convert_qdq_onnx(path)
    graph = read_tflite(model_bytes)
    t_in, t_out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    x = torch.randn(samples, *input_shape[1:]) * 1.5
    with torch.no_grad():
        expected = model(x).numpy()
    if expected.ndim == 4:
        expected = expected.transpose(0, 2, 3, 1)
    elif expected.ndim == 3:
        expected = expected.transpose(0, 2, 1)
    expected_q = np.rint(expected / t_out.scale[0]) + t_out.zero_point[0]
    x_np = x.numpy()
    if x_np.ndim == 4:
        x_np = x_np.transpose(0, 2, 3, 1)
    x_q = np.clip(np.rint(x_np / t_in.scale[0]) + t_in.zero_point[0], -128, 127).astype(np.int8)
    tflm = np.concatenate([out[0] for out in run_tflm_batch(model_bytes, [[x_q[i:i + 1]] for i in range(samples)])])
    litert = np.concatenate([run_litert_reference(model_bytes, [x_q[i:i + 1]])[0] for i in range(samples)])
    steps = int(np.abs(tflm.astype(np.int64) - expected_q).max())
    return steps, bool(np.array_equal(tflm, litert)), graph.op_counts()


def assert_converted(model, input_shape, tmp_path, required_ops: set[str]):
    steps, litert_equal, ops = convert_and_compare(model, input_shape, tmp_path)
    assert required_ops <= set(ops), ops
    assert "TRANSPOSE" not in ops and "CUSTOM" not in ops
    assert steps <= 1, f"TFLM differs from fake quant by {steps} int8 steps"
    assert litert_equal
    return ops


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
