"""The modules a quantized graph is made of: activation fake quantizers and int8 layers.

All fake quantization goes through torch.fake_quantize_* so that the forward pass, the
straight-through gradient in QAT and the ONNX QuantizeLinear/DequantizeLinear export are
one and the same arithmetic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .qparams import ACT_QMAX, ACT_QMIN, INT32_MAX, INT32_MIN, constant_qparams, quantize_to_int, weight_scales

# Mode of an activation fake quantizer.
OBSERVE, QUANTIZE, FLOAT = "observe", "quantize", "float"


class ActFakeQuant(nn.Module):
    """Fake-quantizes one int8 activation tensor; `group` names the tensors that share its qparams."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group
        self.mode = FLOAT
        self.observer = None  # set during calibration only, shared by the whole group
        self.register_buffer("scale", torch.tensor(1.0, dtype=torch.float32))
        self.register_buffer("zero_point", torch.tensor(0, dtype=torch.int32))

    def set_qparams(self, scale: float, zero_point: int) -> None:
        self.scale.fill_(scale)
        self.zero_point.fill_(zero_point)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == QUANTIZE:
            return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, ACT_QMIN, ACT_QMAX)
        if self.mode == OBSERVE and self.observer is not None:
            self.observer.update(x)
        return x

    def extra_repr(self) -> str:
        return f"group={self.group}, mode={self.mode}, scale={float(self.scale):.6g}, zero_point={int(self.zero_point)}"


class QuantConstant(nn.Module):
    """A constant operand of ADD / MUL / ... held as symmetric per-tensor int8 (its max maps to 127)."""

    def __init__(self, value: torch.Tensor):
        super().__init__()
        value = value.detach().to(torch.float32)
        scale, zero_point = constant_qparams(value)
        self.register_buffer("value", value)
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("zero_point", torch.tensor(zero_point, dtype=torch.int32))
        self.quantize = False

    def forward(self) -> torch.Tensor:
        if not self.quantize:
            return self.value
        return torch.fake_quantize_per_tensor_affine(self.value, self.scale, self.zero_point, ACT_QMIN, ACT_QMAX)


class QuantWeighted(nn.Module):
    """Conv1d / Conv2d / Linear with int8 symmetric weights and an int32 bias.

    Weight scales follow the weights (recomputed every call, so QAT can train them); the bias
    scale is input scale x weight scale, read from the input's fake quantizer at call time.
    Conv weights are per output channel, FC weights per tensor (the TFLite int8 spec).
    """

    def __init__(self, layer: nn.Module, input_quant: ActFakeQuant):
        super().__init__()
        self.layer = layer
        self.per_channel = not isinstance(layer, nn.Linear)
        self.quantize = False
        # Not a submodule: the input quantizer belongs to the graph, this only reads its scale.
        object.__setattr__(self, "_input_quant", input_quant)

    @property
    def input_quant(self) -> ActFakeQuant:
        return self._input_quant

    def weight_qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale = weight_scales(self.layer.weight, self.per_channel)
        return scale, torch.zeros(scale.shape, dtype=torch.int32)

    def bias_scale(self) -> torch.Tensor:
        # float64 product rounded once to float32: the value TFLite converters store for the bias scale.
        input_scale = self.input_quant.scale.detach().double()
        return (input_scale * weight_scales(self.layer.weight, self.per_channel).double()).to(torch.float32)

    def int8_weight(self) -> torch.Tensor:
        scale, zero_point = self.weight_qparams()
        return quantize_to_int(self.layer.weight, scale, zero_point, ACT_QMIN, ACT_QMAX,
                               axis=0 if self.per_channel else None).to(torch.int8)

    def int32_bias(self) -> torch.Tensor:
        return quantize_to_int(self._float_bias(), self.bias_scale(), 0, INT32_MIN, INT32_MAX, axis=0).to(torch.int32)

    def quantized_weight(self) -> torch.Tensor:
        scale, zero_point = self.weight_qparams()
        if self.per_channel:
            return torch.fake_quantize_per_channel_affine(self.layer.weight, scale, zero_point, 0, ACT_QMIN, ACT_QMAX)
        return torch.fake_quantize_per_tensor_affine(self.layer.weight, scale, zero_point, ACT_QMIN, ACT_QMAX)

    def quantized_bias(self) -> torch.Tensor:
        bias = self._float_bias()
        scale = self.bias_scale()
        dequantized = self.int32_bias().to(torch.float32) * scale
        # Straight-through: the forward value is the int32 grid, the gradient flows to the float bias.
        return bias + (dequantized - bias).detach()

    def _float_bias(self) -> torch.Tensor:
        if self.layer.bias is not None:
            return self.layer.bias
        return torch.zeros(self.layer.weight.shape[0], dtype=torch.float32, device=self.layer.weight.device)

    def freeze_for_export(self) -> None:
        """Store the current weight qparams and dequantized bias as buffers, so that the ONNX
        export sees constants (QuantizeLinear on the weight initializer, a bias initializer)."""
        scale, zero_point = self.weight_qparams()
        self.register_buffer("export_weight_scale", scale)
        self.register_buffer("export_weight_zero_point", zero_point)
        self.register_buffer("export_bias", self.int32_bias().to(torch.float32) * self.bias_scale())

    def unfreeze(self) -> None:
        for name in ("export_weight_scale", "export_weight_zero_point", "export_bias"):
            self._buffers.pop(name, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quantize:
            return self.layer(x)
        if "export_bias" in self._buffers:
            scale, zero_point = self.export_weight_scale, self.export_weight_zero_point
            if self.per_channel:
                weight = torch.fake_quantize_per_channel_affine(self.layer.weight, scale, zero_point, 0, ACT_QMIN, ACT_QMAX)
            else:
                weight = torch.fake_quantize_per_tensor_affine(self.layer.weight, scale, zero_point, ACT_QMIN, ACT_QMAX)
            return self.apply_layer(x, weight, self.export_bias)
        return self.apply_layer(x, self.quantized_weight(), self.quantized_bias())

    def apply_layer(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        if isinstance(layer, nn.Linear):
            return F.linear(x, weight, bias)
        if layer.padding_mode != "zeros":
            raise ValueError("only zero padding is supported")
        conv = F.conv1d if isinstance(layer, nn.Conv1d) else F.conv2d
        return conv(x, weight, bias, layer.stride, layer.padding, layer.dilation, layer.groups)
