"""RESHAPE (a view), CONCATENATION, SLICE, STRIDED_SLICE and PAD: equal quantization in and out."""

from __future__ import annotations

import numpy as np

from ..graph import Layer, ModelIR, dims4, same_quantization
from ..layer_code import ConstArray, LayerCode, dims_object, shape_text
from .common import status_call
from .registry import emitter, unsupported


@emitter("RESHAPE")
def _reshape(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if not same_quantization(x, out):
        raise unsupported(ir, layer, "a RESHAPE that changes the quantization")
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, a view: no copy", view=True)


@emitter("CONCATENATION")
def _concat(ir, layer, prefix):
    op = layer.op
    out = ir.tensor(op.outputs[0])
    if layer.options.get("fused_activation_function", "NONE") != "NONE":
        raise unsupported(ir, layer, "a fused activation on CONCATENATION")
    axis = int(layer.options.get("axis", 0)) % len(out.shape)
    parts = []
    arrays = []
    sizes = []
    for position, t in enumerate(op.inputs):
        tensor = ir.tensor(t)
        if not same_quantization(tensor, out):
            raise unsupported(ir, layer, "CONCATENATION of inputs whose quantization differs from the output's")
        sizes.append(int(tensor.shape[axis]))
        if tensor.data is not None:
            name = f"{prefix}_part{position}"
            arrays.append(ConstArray(name, "int8_t", tensor.data.reshape(-1)))
            parts.append(name)
        else:
            parts.append(f"@IN{layer.inputs.index(t)}@")
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    statements = [
        f"const int8_t *const parts[{len(parts)}] = {{{', '.join(parts)}}};",
        f"static const int32_t axis_sizes[{len(sizes)}] = {{{', '.join(map(str, sizes))}}};",
        *status_call(f"fn_concat_s8({len(parts)}, parts, axis_sizes, {outer}, {inner}, @OUT0@)"),
    ]
    shapes = " + ".join(shape_text(ir.tensor(t).shape) for t in op.inputs)
    return LayerCode(f"{shapes} -> {shape_text(out.shape)}, axis {axis}", statements, arrays)


def _copy_layer(ir: ModelIR, layer: Layer, offset_name: str, offset: tuple[int, ...], call: str,
                detail: str = "") -> LayerCode:
    """A data-movement kernel whose output is its input placed at (pad) or taken from (slice) an offset."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    objects = [dims_object("in_dims", dims4(x.shape)), dims_object(offset_name, offset),
               dims_object("out_dims", dims4(out.shape))]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}{detail}", status_call(call), objects=objects)


def _slice_code(ir: ModelIR, layer: Layer, begin: list[int]) -> LayerCode:
    if len(ir.tensor(layer.inputs[0]).shape) > 4:
        raise unsupported(ir, layer, "a slice of more than 4 dimensions")
    begin4 = tuple([0] * (4 - len(begin)) + begin)
    return _copy_layer(ir, layer, "begin", begin4, "fn_slice_s8(&in_dims, @IN0@, &begin, &out_dims, @OUT0@)",
                       f", from {shape_text(tuple(begin))}")


@emitter("SLICE")
def _slice(ir, layer, prefix):
    begin = [int(v) for v in ir.constant(layer, 1).reshape(-1)]
    return _slice_code(ir, layer, begin)


@emitter("STRIDED_SLICE")
def _strided_slice(ir, layer, prefix):
    opts = layer.options
    x = ir.tensor(layer.inputs[0])
    begin = [int(v) for v in ir.constant(layer, 1).reshape(-1)]
    strides = [int(v) for v in ir.constant(layer, 3).reshape(-1)]
    if any(s != 1 for s in strides):
        raise unsupported(ir, layer, f"STRIDED_SLICE with strides {strides} (outside the MDW Max-out pattern)")
    if any(int(opts.get(k, 0)) for k in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask")):
        raise unsupported(ir, layer, "STRIDED_SLICE with ellipsis, new-axis or shrink masks")
    mask = int(opts.get("begin_mask", 0))
    begin = [0 if mask & (1 << d) else (b % x.shape[d] if b < 0 else b) for d, b in enumerate(begin)]
    return _slice_code(ir, layer, begin)


@emitter("PAD")
def _pad(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if not same_quantization(x, out):
        raise unsupported(ir, layer, "PAD that changes the quantization")
    paddings = ir.constant(layer, 1).reshape(-1, 2)
    before = tuple([0] * (4 - len(x.shape)) + [int(p) for p in paddings[:, 0]])
    return _copy_layer(ir, layer, "before", before,
                       f"fn_pad_s8(&in_dims, @IN0@, &before, {int(out.zero_point[0])}, &out_dims, @OUT0@)")
