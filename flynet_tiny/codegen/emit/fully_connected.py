"""FULLY_CONNECTED: per-tensor or per-channel weights, any batch count."""

from __future__ import annotations

import numpy as np

from ..layer_code import ConstArray, LayerCode, ParamObject, shape_text
from .common import act_range, bias_array, per_channel_quant, status_call
from .registry import emitter


@emitter("FULLY_CONNECTED")
def _fully_connected(ir, layer, prefix):
    op = layer.op
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    weights = ir.constant(layer, 1)
    out_features, in_features = (int(s) for s in weights.shape)
    batches = int(np.prod(x.shape)) // in_features
    per_channel = ir.tensor(op.inputs[1]).per_channel
    multipliers, shifts = per_channel_quant(ir, layer, out_features if per_channel else 1, 1)
    bias_name, bias_arrays = bias_array(ir, layer, prefix, 2)
    act_min, act_max = act_range(ir, layer, op.outputs[0])
    params = {
        "input_offset": -int(x.zero_point[0]), "filter_offset": 0, "output_offset": int(out.zero_point[0]),
        "act_min": act_min, "act_max": act_max, "per_channel": int(per_channel),
    }
    arrays = [ConstArray(f"{prefix}_weights", "int8_t", weights.reshape(-1)), *bias_arrays,
              ConstArray(f"{prefix}_multiplier", "int32_t", multipliers),
              ConstArray(f"{prefix}_shift", "int32_t", shifts)]
    objects = [ParamObject("params", "fn_fc_params", params),
               ParamObject("quant", "fn_channel_quant", {"multiplier": f"{prefix}_multiplier",
                                                         "shift": f"{prefix}_shift"})]
    statements = status_call(f"fn_fully_connected_s8(&params, &quant, {batches}, {in_features}, @IN0@, {out_features}, "
                             f"{prefix}_weights, {bias_name}, @OUT0@)")
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, {in_features} -> {out_features} features",
                     statements, arrays, objects=objects)
