"""One-layer QDQ models for the converter tests: they quantize themselves with torch's fake-quant ops
(per-tensor activations observed on a calibration batch, per-channel symmetric weights, biases on the
int32 grid), which export to ONNX as QuantizeLinear / DequantizeLinear, the graph form the quantizer writes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from flynet_tiny.convert.to_tflite import convert_qdq_onnx
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


def calibrate_and_export(model: OneLayer, input_shape, path, seed: int = 0) -> None:
    """Observe ranges on a random batch, then write the QDQ ONNX graph to `path`."""
    torch.manual_seed(seed)
    model.eval()
    calib = torch.randn(16, *input_shape[1:]) * 1.5
    with torch.no_grad():
        model(calib)
    model.finish_calibration()
    torch.onnx.export(model, (calib[:1],), str(path), dynamo=False, opset_version=17)


def convert_and_compare(model: OneLayer, input_shape, tmp_path, samples: int = 4, seed: int = 0):
    """Returns (max |TFLM - fake-quant| in int8 steps, TFLM == LiteRT-ref, op counts)."""
    path = tmp_path / "layer.onnx"
    calibrate_and_export(model, input_shape, path, seed)
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
