"""MEAN and REDUCE_MAX over any axes of a tensor of up to 4 dims (keep_dims or not: the bytes are the same)."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..graph import Layer, ModelIR, dims4, same_quantization
from ..layer_code import LayerCode, ParamObject, dims_object, shape_text
from .common import scale_of, status_call
from .registry import emitter, unsupported

_AXIS_NAMES = "NHWC"


def _reduction(ir: ModelIR, layer: Layer, call: str, objects: list[ParamObject]) -> LayerCode:
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if len(x.shape) > 4:
        raise unsupported(ir, layer, f"{layer.kind} of a tensor of {len(x.shape)} dimensions")
    ndim = len(x.shape)
    axes = sorted({int(a) % ndim for a in ir.constant(layer, 1).reshape(-1)}) if ndim else []
    kept = [int(s) for i, s in enumerate(x.shape) if i not in axes]
    if int(np.prod(kept, dtype=np.int64)) != int(np.prod(out.shape, dtype=np.int64)):
        raise unsupported(ir, layer, f"{layer.kind} to {shape_text(out.shape)} from {shape_text(x.shape)} over {axes}")
    flags = tuple([0] * (4 - ndim) + [int(i in axes) for i in range(ndim)])
    names = [_AXIS_NAMES[4 - ndim + a] for a in axes] if ndim == 4 else [str(a) for a in axes]
    objects = [*objects, dims_object("in_dims", dims4(x.shape)), dims_object("reduced", flags)]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, {layer.kind.lower()} over {', '.join(names)}",
                     status_call(call), objects=objects)


@emitter("MEAN")
def _mean(ir, layer, prefix):
    params = qp.mean_params(*scale_of(ir, layer.inputs[0]), *scale_of(ir, layer.outputs[0]))
    return _reduction(ir, layer, "fn_mean_s8(&params, &in_dims, &reduced, @IN0@, @OUT0@)",
                      [ParamObject("params", "fn_mean_params", params)])


@emitter("REDUCE_MAX")
def _reduce_max(ir, layer, prefix):
    if not same_quantization(ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])):
        raise unsupported(ir, layer, "REDUCE_MAX to another quantization (TFLM refuses it too)")
    return _reduction(ir, layer, "fn_reduce_max_s8(&in_dims, &reduced, @IN0@, @OUT0@)", [])
