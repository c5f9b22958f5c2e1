"""FULLY_CONNECTED: per-tensor or per-channel weights, any batch count; and 1x1 stride-1 CONV_2D on small maps.

Symmetric weights without -128 (what TFLite's int8 quantizer writes) go to `fn_fully_connected_pairs_s8`
on weights packed in row pairs, the input offset folded into the bias (`fc_pairs`); anything else keeps
`fn_fully_connected_s8` on the weights as the model stores them. A 1x1 stride-1 convolution is a fully
connected layer over its pixels (the same sums and requantization as TFLM's conv): where
`fc_pairs.pointwise_prefers_pairs` says the map is too small for the conv kernel's 1x1 tiles to pay for
expanding the weights, the conv runs as one (`pointwise_as_pairs`).
"""

from __future__ import annotations

import numpy as np

from .. import fc_pairs
from ..layer_code import ConstArray, LayerCode, ParamObject, ScratchQuery, dims_object, shape_text
from ..graph import Layer, ModelIR
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
    act_min, act_max = act_range(ir, layer, op.outputs[0])
    summary = f"{shape_text(x.shape)} -> {shape_text(out.shape)}, {in_features} -> {out_features} features"
    input_offset, output_offset = -int(x.zero_point[0]), int(out.zero_point[0])
    if fc_pairs.pairs_apply(weights):
        return _pairs(ir, layer, prefix, summary, weights, batches, input_offset, output_offset, per_channel,
                      multipliers, shifts, act_min, act_max)
    bias_name, bias_arrays = bias_array(ir, layer, prefix, 2)
    params = {
        "input_offset": input_offset, "filter_offset": 0, "output_offset": output_offset,
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
    return LayerCode(summary, statements, arrays, objects=objects)


def pointwise_as_pairs(ir: ModelIR, layer: Layer, prefix: str) -> LayerCode | None:
    """A 1x1 stride-1 CONV_2D as fn_fully_connected_pairs_s8 over its pixels where fc_pairs prefers it, else None."""
    op, opts = layer.op, layer.options
    weights = ir.constant(layer, 1)
    if weights is None or weights.ndim != 4 or weights.shape[1:3] != (1, 1) or not fc_pairs.pairs_apply(weights):
        return None
    if any(int(opts.get(k, 1)) != 1 for k in ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor")):
        return None
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    out_c, in_c = int(weights.shape[0]), int(weights.shape[3])
    pixels = int(np.prod(x.shape[:3]))
    if not fc_pairs.pointwise_prefers_pairs(pixels, in_c, out_c):
        return None
    multipliers, shifts = per_channel_quant(ir, layer, out_c, 1)
    act_min, act_max = act_range(ir, layer, op.outputs[0])
    summary = f"{shape_text(x.shape)} -> {shape_text(out.shape)}, 1x1 stride 1 as {pixels} x {in_c} -> {out_c}"
    return _pairs(ir, layer, prefix, summary, weights.reshape(out_c, in_c), pixels, -int(x.zero_point[0]),
                  int(out.zero_point[0]), True, multipliers, shifts, act_min, act_max)


def _pairs(ir, layer, prefix, summary, weights, batches, input_offset, output_offset, per_channel, multipliers,
           shifts, act_min, act_max) -> LayerCode:
    out_features, in_features = (int(s) for s in weights.shape)
    bias = fc_pairs.folded_bias(weights, ir.constant(layer, 2), input_offset)
    params = {"output_offset": output_offset, "act_min": act_min, "act_max": act_max,
              "per_channel": int(per_channel),
              "fast_requant": int(fc_pairs.fast_requant_applies(bias, shifts, in_features))}
    arrays = [ConstArray(f"{prefix}_weights", "int8_t", fc_pairs.pack_weights(weights)),
              ConstArray(f"{prefix}_bias", "int32_t", bias),
              ConstArray(f"{prefix}_requant", "int32_t", fc_pairs.requant_table(multipliers, shifts))]
    in_dims, out_dims = (batches, 1, 1, in_features), (batches, 1, 1, out_features)
    statements = status_call(f"fn_fully_connected_pairs_s8(&params, {prefix}_requant, {batches}, {in_features}, @IN0@, "
                             f"{out_features}, {prefix}_weights, {prefix}_bias, @OUT0@, @SCRATCH@)")
    return LayerCode(summary + ", row pairs", statements, arrays,
                     ScratchQuery("fn_fully_connected_pairs_s8_get_buffer_size", (in_dims, out_dims),
                                  "&in_dims, &out_dims"),
                     objects=[ParamObject("params", "fn_fc_pairs_params", params), dims_object("in_dims", in_dims),
                              dims_object("out_dims", out_dims)])
