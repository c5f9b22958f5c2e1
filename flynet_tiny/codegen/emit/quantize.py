"""QUANTIZE (uint8 -> int8, int8 -> int8, int8 -> uint8, float32 -> int8) and DEQUANTIZE (int8 -> float32)."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..layer_code import LayerCode, ParamObject, shape_text
from .common import scale_of, status_call
from .registry import emitter, unsupported

_REQUANTIZE = {("int8", "int8"): "fn_requantize_s8", ("uint8", "int8"): "fn_requantize_u8_s8",
               ("int8", "uint8"): "fn_requantize_s8_u8"}


def float_literal(value: float) -> str:
    """A float32 as a C literal with exactly its bits (hexadecimal: no decimal rounding)."""
    return float(np.float32(value)).hex() + "f"


@emitter("QUANTIZE")
def _quantize(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    size = int(np.prod(x.shape))
    scale, zero_point = scale_of(ir, layer.outputs[0])
    summary = f"{shape_text(x.shape)} {x.dtype} -> {out.dtype}"
    if x.dtype == "float32":
        if out.dtype != "int8":
            raise unsupported(ir, layer, f"QUANTIZE float32 -> {out.dtype}")
        call = f"fn_quantize_f32_s8({float_literal(scale)}, {zero_point}, {size}, @IN0@, @OUT0@)"
        return LayerCode(f"{summary}, x / {scale:.6g} + {zero_point}", status_call(call))
    function = _REQUANTIZE.get((x.dtype, out.dtype))
    if function is None:
        raise unsupported(ir, layer, f"QUANTIZE {x.dtype} -> {out.dtype}")
    params = qp.requantize_params(*scale_of(ir, layer.inputs[0]), scale, zero_point)
    return LayerCode(f"{summary}, scale x{float(np.float32(x.scale[0])) / float(np.float32(scale)):.6g}",
                     status_call(f"{function}(&params, {size}, @IN0@, @OUT0@)"), inplace_input=0,
                     objects=[ParamObject("params", "fn_requantize_params", params)])


@emitter("DEQUANTIZE")
def _dequantize(ir, layer, prefix):
    x = ir.tensor(layer.inputs[0])
    scale, zero_point = scale_of(ir, layer.inputs[0])
    call = f"fn_dequantize_s8_f32({float_literal(scale)}, {zero_point}, {int(np.prod(x.shape))}, @IN0@, @OUT0@)"
    offset = f"q - {zero_point}" if zero_point >= 0 else f"q + {-zero_point}"
    return LayerCode(f"{shape_text(x.shape)} int8 -> float32, ({offset}) * {scale:.6g}", status_call(call))
