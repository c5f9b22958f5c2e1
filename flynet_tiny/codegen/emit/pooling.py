"""AVERAGE_POOL_2D, MAX_POOL_2D, and the Max-out over heads."""

from __future__ import annotations

import numpy as np

from ..graph import dims4, same_quantization
from ..layer_code import LayerCode, ParamObject, dims_object, shape_text
from ...int8 import kernel_params as qp
from ..overlap import Blocks, Overlap, PixelWindows
from .common import act_range, status_call
from .registry import emitter, unsupported


@emitter("AVERAGE_POOL_2D", "MAX_POOL_2D")
def _pool(ir, layer, prefix):
    opts = layer.options
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if not same_quantization(x, out):
        raise unsupported(ir, layer, "pooling that changes the quantization")
    act_min, act_max = act_range(ir, layer, layer.outputs[0])
    params = {
        "stride_h": int(opts["stride_h"]), "stride_w": int(opts["stride_w"]),
        "filter_h": int(opts["filter_height"]), "filter_w": int(opts["filter_width"]),
        "padding": "FN_PADDING_SAME" if opts["padding"] == "SAME" else "FN_PADDING_VALID",
        "act_min": act_min, "act_max": act_max,
    }
    if min(params["stride_h"], params["stride_w"], params["filter_h"], params["filter_w"]) < 1:
        raise unsupported(ir, layer, f"pooling {params['filter_h']}x{params['filter_w']} "
                                     f"stride {params['stride_h']}x{params['stride_w']}")
    function = "fn_avgpool_s8" if layer.kind == "AVERAGE_POOL_2D" else "fn_maxpool_s8"
    in_dims, out_dims = dims4(x.shape), dims4(out.shape)
    objects = [ParamObject("params", "fn_pool_params", params),
               dims_object("in_dims", in_dims), dims_object("out_dims", out_dims)]
    kernel, stride = (params["filter_h"], params["filter_w"]), (params["stride_h"], params["stride_w"])
    leading = tuple(qp.conv_padding(opts["padding"], size, k, s)[1]
                    for size, k, s in zip(in_dims[1:3], kernel, stride))
    overlap = Overlap(0, (PixelWindows(in_dims, out_dims, kernel, stride, leading),),
                      "output pixels in raster order, each written after its window's top rows were read")
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, "
                     f"{params['filter_h']}x{params['filter_w']} stride {params['stride_h']}",
                     status_call(f"{function}(&params, &in_dims, @IN0@, &out_dims, @OUT0@)"), objects=objects,
                     overlap=overlap)


@emitter("MAXOUT")
def _maxout(ir, layer, prefix):
    """Max over each channel's h adjacent heads (fn_maxout_s8)."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    groups = int(np.prod(out.shape))
    heads = int(np.prod(x.shape)) // groups
    statements = status_call(f"fn_maxout_s8({groups}, {heads}, @IN0@, @OUT0@)")
    # In place is safe: output g is written after its window g*h..g*h+h-1 was read, and every byte
    # it lands on (index g <= g*h) belongs to a window already read.
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, max over {heads} heads", statements,
                     overlap=Overlap(0, (Blocks(groups, heads, 1),),
                                     "output g is written after its heads g*h.. were read"))
