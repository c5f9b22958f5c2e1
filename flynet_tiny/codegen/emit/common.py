"""Parameters several emitters share: activation bounds, per-channel requantization, biases, scales."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..graph import Layer, ModelIR
from ..layer_code import ConstArray
from .registry import unsupported


def status_call(call: str) -> list[str]:
    return [f"status = {call};"]


def scale_of(ir: ModelIR, index: int) -> tuple[float, int]:
    t = ir.tensor(index)
    return float(t.scale[0]), int(t.zero_point[0])


def act_range(ir: ModelIR, layer: Layer, out_index: int) -> tuple[int, int]:
    out = ir.tensor(out_index)
    activation = layer.options.get("fused_activation_function", "NONE")
    if activation not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise unsupported(ir, layer, f"fused activation {activation}")
    return qp.activation_range(activation, float(out.scale[0]), int(out.zero_point[0]))


def per_channel_quant(ir: ModelIR, layer: Layer, channels: int, weights_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiplier and shift per output channel: input_scale * weight_scale[c] / output_scale."""
    x = ir.tensor(layer.inputs[0])
    w = ir.tensor(layer.op.inputs[weights_index])
    out = ir.tensor(layer.op.outputs[0])
    if w.zero_point is not None and np.any(w.zero_point != 0):
        raise unsupported(ir, layer, "weights with a non-zero zero point")
    scales = np.broadcast_to(np.asarray(w.scale, dtype=np.float32), (channels,))
    return qp.conv_channel_quant(float(x.scale[0]), scales, float(out.scale[0]))


def bias_array(ir: ModelIR, layer: Layer, prefix: str, position: int) -> tuple[str, list[ConstArray]]:
    bias = ir.constant(layer, position)
    if bias is None:
        return "NULL", []
    if bias.dtype != np.int32:
        raise unsupported(ir, layer, f"a {bias.dtype} bias (int8 models carry int32 biases)")
    return f"{prefix}_bias", [ConstArray(f"{prefix}_bias", "int32_t", bias.reshape(-1))]
