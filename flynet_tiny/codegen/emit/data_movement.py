"""RESHAPE (a view), CONCATENATION, SPLIT, SPLIT_V, SLICE, STRIDED_SLICE, PAD, PADV2 and TRANSPOSE.

TFLM moves the bytes of these ops and never requantizes (the converter gives their inputs and outputs
one quantization), so neither do the kernels; a quantization change is refused where TFLM refuses it
(CONCATENATION) and where the generator aliases buffers (RESHAPE)."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..graph import Layer, ModelIR, dims4, same_quantization
from ..layer_code import ConstArray, LayerCode, dims_object, shape_text
from ..overlap import ConcatCopies, Overlap
from .common import status_call
from .registry import emitter, unsupported


@emitter("RESHAPE")
def _reshape(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if not same_quantization(x, out):
        raise unsupported(ir, layer, "a RESHAPE that changes the quantization")
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, a view: no copy", view=True)


def _outer_inner(shape: tuple[int, ...], axis: int) -> tuple[int, int]:
    return int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis + 1:], dtype=np.int64))


def _axis(ir: ModelIR, layer: Layer, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise unsupported(ir, layer, f"axis {axis} of a tensor of {ndim} dimensions")
    return axis % ndim


@emitter("CONCATENATION")
def _concat(ir, layer, prefix):
    op = layer.op
    out = ir.tensor(op.outputs[0])
    if layer.options.get("fused_activation_function", "NONE") != "NONE":
        raise unsupported(ir, layer, "a fused activation on CONCATENATION")
    axis = _axis(ir, layer, int(layer.options.get("axis", 0)), len(out.shape))
    parts, arrays, sizes = [], [], []
    for position, t in enumerate(op.inputs):
        tensor = ir.tensor(t)
        if not same_quantization(tensor, out):
            raise unsupported(ir, layer, "CONCATENATION of inputs quantized unlike the output (TFLM refuses it too)")
        sizes.append(int(tensor.shape[axis]))
        if tensor.data is not None:
            name = f"{prefix}_part{position}"
            arrays.append(ConstArray(name, "int8_t", tensor.data.reshape(-1)))
            parts.append(name)
        else:
            parts.append(f"@IN{layer.inputs.index(t)}@")
    outer, inner = _outer_inner(out.shape, axis)
    statements = [
        f"const int8_t *const parts[{len(parts)}] = {{{', '.join(parts)}}};",
        f"static const int32_t axis_sizes[{len(sizes)}] = {{{', '.join(map(str, sizes))}}};",
        *status_call(f"fn_concat_s8({len(parts)}, parts, axis_sizes, {outer}, {inner}, @OUT0@)"),
    ]
    shapes = " + ".join(shape_text(ir.tensor(t).shape) for t in op.inputs)
    return LayerCode(f"{shapes} -> {shape_text(out.shape)}, axis {axis}", statements, arrays,
                     overlap=_concat_overlap(ir, layer, outer, [size * inner for size in sizes]))


def _concat_overlap(ir: ModelIR, layer: Layer, outer: int, chunks: list[int]) -> Overlap | None:
    """The output may be written over its largest input (the first of equals), whose slices it copies in turn."""
    variable = [(position, t) for position, t in enumerate(layer.op.inputs) if ir.tensor(t).data is None]
    if not variable:
        return None
    part, largest = max(variable, key=lambda item: (ir.tensor(item[1]).nbytes, -item[0]))
    return Overlap(layer.inputs.index(largest), (ConcatCopies(outer, tuple(chunks), part),),
                   "concatenation: slice by slice, one memcpy per input, each written after the "
                   "input bytes it lands on were copied")


@emitter("SPLIT", "SPLIT_V")
def _split(ir, layer, prefix):
    """SPLIT (axis, input) and SPLIT_V (input, sizes, axis): the outputs' shapes give the sizes."""
    op = layer.op
    x = ir.tensor(layer.inputs[0])
    axis_position = 0 if layer.kind == "SPLIT" else 2
    axis = _axis(ir, layer, int(ir.constant(layer, axis_position).reshape(-1)[0]), len(x.shape))
    sizes = [int(ir.tensor(t).shape[axis]) for t in op.outputs]
    if sum(sizes) != x.shape[axis] or min(sizes) < 1:
        raise unsupported(ir, layer, f"{layer.kind} of {x.shape[axis]} into {sizes}")
    outer, inner = _outer_inner(x.shape, axis)
    outputs = ", ".join(f"@OUT{i}@" for i in range(len(sizes)))
    statements = [
        f"int8_t *const parts[{len(sizes)}] = {{{outputs}}};",
        f"static const int32_t axis_sizes[{len(sizes)}] = {{{', '.join(map(str, sizes))}}};",
        *status_call(f"fn_split_s8({len(sizes)}, parts, axis_sizes, {outer}, {inner}, @IN0@)"),
    ]
    shapes = " + ".join(shape_text(ir.tensor(t).shape) for t in op.outputs)
    return LayerCode(f"{shape_text(x.shape)} -> {shapes}, axis {axis}", statements)


def _copy_layer(ir: ModelIR, layer: Layer, call: str, detail: str, **dims: tuple[int, ...]) -> LayerCode:
    """A data-movement kernel call taking the input's dims and the fn_dims objects `dims` (offsets,
    strides, the output's dims) by address."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    objects = [dims_object("in_dims", dims4(x.shape))] + [dims_object(name, value) for name, value in dims.items()]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}{detail}", status_call(call), objects=objects)


def _four_dims(ir: ModelIR, layer: Layer) -> int:
    ndim = len(ir.tensor(layer.inputs[0]).shape)
    if ndim > 4:
        raise unsupported(ir, layer, f"{layer.kind} of a tensor of {ndim} dimensions")
    return ndim


def _slice_code(ir: ModelIR, layer: Layer, begin: list[int]) -> LayerCode:
    ndim = _four_dims(ir, layer)
    return _copy_layer(ir, layer, "fn_slice_s8(&in_dims, @IN0@, &begin, &out_dims, @OUT0@)",
                       f", from {shape_text(tuple(begin))}", begin=tuple([0] * (4 - ndim) + begin),
                       out_dims=dims4(ir.tensor(layer.outputs[0]).shape))


@emitter("SLICE")
def _slice(ir, layer, prefix):
    begin = [int(v) for v in ir.constant(layer, 1).reshape(-1)]
    return _slice_code(ir, layer, begin)


@emitter("STRIDED_SLICE")
def _strided_slice(ir, layer, prefix):
    """TFLM's resolution of begin / end / strides and the begin, end and shrink masks (it ignores the
    ellipsis and new-axis masks, so tflite/validate.py refuses models that set them)."""
    opts = layer.options
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    ndim = _four_dims(ir, layer)
    begin, end, strides = (ir.constant(layer, i).reshape(-1) for i in (1, 2, 3))
    axes = qp.strided_slice_axes(x.shape, begin, end, strides, int(opts.get("begin_mask", 0)),
                                 int(opts.get("end_mask", 0)), int(opts.get("shrink_axis_mask", 0)))
    counts = [count for _, count, _ in axes]
    if min(counts, default=1) < 1 or int(np.prod(counts)) != int(np.prod(out.shape)):
        raise unsupported(ir, layer, f"STRIDED_SLICE of {counts} elements per axis into {shape_text(out.shape)}")
    starts = [start for start, _, _ in axes]
    steps = [stride for _, _, stride in axes]
    if all(s == 1 for s in steps):
        return _slice_code(ir, layer, starts)
    # The kernel's output dims are the counts on the input's axes (shrunk axes keep their 1).
    return _copy_layer(ir, layer, "fn_strided_slice_s8(&in_dims, @IN0@, &begin, &strides, &out_dims, @OUT0@)",
                       f", from {shape_text(tuple(starts))} in steps {shape_text(tuple(steps))}",
                       begin=tuple([0] * (4 - ndim) + starts), strides=tuple([1] * (4 - ndim) + steps),
                       out_dims=dims4(tuple(counts)))


@emitter("PAD", "PADV2")
def _pad(ir, layer, prefix):
    """PAD fills with the output zero point, PADV2 with its constant value (raw int8, as TFLM)."""
    out = ir.tensor(layer.outputs[0])
    ndim = _four_dims(ir, layer)
    paddings = ir.constant(layer, 1).reshape(-1, 2)
    before = tuple([0] * (4 - ndim) + [int(p) for p in paddings[:, 0]])
    value = int(out.zero_point[0])
    if layer.kind == "PADV2" and ir.constant(layer, 2) is not None:
        value = int(ir.constant(layer, 2).reshape(-1)[0])
    return _copy_layer(ir, layer, f"fn_pad_s8(&in_dims, @IN0@, &before, {value}, &out_dims, @OUT0@)",
                       f", pad value {value}" if layer.kind == "PADV2" else "", before=before,
                       out_dims=dims4(out.shape))


@emitter("TRANSPOSE")
def _transpose(ir, layer, prefix):
    """A permutation that keeps the order of the axes longer than 1 moves no byte: a view."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    ndim = _four_dims(ir, layer)
    perm = [int(p) % max(ndim, 1) for p in ir.constant(layer, 1).reshape(-1)]
    if sorted(perm) != list(range(ndim)):
        raise unsupported(ir, layer, f"TRANSPOSE with the permutation {perm}")
    moved = [p for p in perm if x.shape[p] != 1]
    if moved == sorted(moved):
        return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, a view: only axes of size 1 move",
                         view=True)
    lead = 4 - ndim
    perm4 = tuple(list(range(lead)) + [lead + p for p in perm])
    objects = [dims_object("in_dims", dims4(x.shape)), dims_object("perm", perm4)]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, axes {shape_text(tuple(perm))}",
                     status_call("fn_transpose_s8(&in_dims, @IN0@, &perm, @OUT0@)"), objects=objects)
