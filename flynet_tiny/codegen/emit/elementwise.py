"""ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM and MINIMUM of two tensors (and PRELU's call, see
activation.py), with 4-D broadcasting and constant operands in flash."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..graph import Layer, ModelIR, dims4
from ..layer_code import ConstArray, LayerCode, ParamObject, dims_object, shape_text
from ..overlap import Blocks, Overlap
from .common import act_range, scale_of, status_call
from .registry import emitter, unsupported


def binary_layer(ir: ModelIR, layer: Layer, prefix: str, function: str, params_type: str | None,
                 params: dict | None) -> LayerCode:
    op = layer.op
    if any(t < 0 for t in op.inputs):
        raise unsupported(ir, layer, "an omitted operand")
    a, b, out = ir.tensor(op.inputs[0]), ir.tensor(op.inputs[1]), ir.tensor(op.outputs[0])
    if max(len(a.shape), len(b.shape), len(out.shape)) > 4:
        raise unsupported(ir, layer, "a tensor of more than 4 dimensions")
    dims = [dims4(a.shape), dims4(b.shape)]
    do = dims4(out.shape)
    # A constant operand (e.g. the +3 of a hard sigmoid) is stored in flash beside the weights.
    operands, arrays = [], []
    for position, t in enumerate(op.inputs[:2]):
        tensor = ir.tensor(t)
        if tensor.data is not None:
            if tensor.dtype != "int8":
                raise unsupported(ir, layer, f"a {tensor.dtype} constant operand")
            arrays.append(ConstArray(f"{prefix}_operand{position}", "int8_t", tensor.data.reshape(-1)))
            operands.append(arrays[-1].name)
        else:
            operands.append(f"@IN{layer.inputs.index(t)}@")
    objects = []
    args = ""
    if params_type is not None:
        objects.append(ParamObject("params", params_type, params))
        args = "&params, "
    objects += [dims_object("in1_dims", dims[0]), dims_object("in2_dims", dims[1]), dims_object("out_dims", do)]
    statements = status_call(f"{function}({args}&in1_dims, {operands[0]}, &in2_dims, {operands[1]}, &out_dims, @OUT0@)")
    # Elementwise kernels read element i before writing element i, so an activation operand with
    # the output's exact shape may be overwritten (unless both operands are the same buffer).
    overlap = None
    if op.inputs[0] != op.inputs[1]:
        for position, t in enumerate(op.inputs[:2]):
            if ir.tensor(t).data is None and dims[position] == do:
                overlap = Overlap(layer.inputs.index(t), (Blocks(ir.tensor(t).nbytes),),
                                  "elementwise: element i is written after it was read")
                break
    return LayerCode(f"{shape_text(a.shape)} , {shape_text(b.shape)} -> {shape_text(out.shape)}", statements, arrays,
                     overlap=overlap, objects=objects)


def clamp_layer(ir: ModelIR, layer: Layer, lo: int, hi: int) -> LayerCode:
    """out = clamp(in, lo, hi) (fn_clamp_s8), or a view of the input where lo..hi is all of int8."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if (lo, hi) == (-128, 127):
        return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, the identity: a view", view=True)
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, clamped to {lo}..{hi}",
                     status_call(f"fn_clamp_s8({lo}, {hi}, {int(np.prod(x.shape))}, @IN0@, @OUT0@)"),
                     overlap=Overlap(0, (Blocks(x.nbytes),), "elementwise: element i is written after it was read"))


_ARITHMETIC = {"ADD": (qp.add_params, "fn_add_s8", "fn_add_params"),
               "SUB": (qp.sub_params, "fn_sub_s8", "fn_add_params"),
               "MUL": (qp.mul_params, "fn_mul_s8", "fn_mul_params"),
               "SQUARED_DIFFERENCE": (qp.squared_difference_params, "fn_squared_difference_s8", "fn_add_params")}


@emitter("ADD", "SUB", "MUL", "SQUARED_DIFFERENCE")
def _arithmetic(ir, layer, prefix):
    op = layer.op
    make_params, function, params_type = _ARITHMETIC[layer.kind]
    params = make_params(*scale_of(ir, op.inputs[0]), *scale_of(ir, op.inputs[1]), *scale_of(ir, op.outputs[0]))
    # SQUARED_DIFFERENCE has no fused activation: TFLM clamps to the whole int8 range.
    params["act_min"], params["act_max"] = act_range(ir, layer, op.outputs[0])
    return binary_layer(ir, layer, prefix, function, params_type, params)


@emitter("MAXIMUM", "MINIMUM")
def _max_min(ir, layer, prefix):
    """Raw comparisons, as TFLM (which never requantizes: the converter gives one quantization). With a
    one-value constant (a clip bound) it is a clamp of the other operand, or nothing at all where the
    bound is the int8 end it clamps to (the converter's clip(-3, 3) on a narrow scale)."""
    op = layer.op
    bounds = [ir.tensor(t) for t in op.inputs[:2] if ir.tensor(t).data is not None]
    if len(bounds) == 1 and bounds[0].data.size == 1 and len(layer.inputs) == 1 and \
            tuple(ir.tensor(layer.inputs[0]).shape) == tuple(ir.tensor(op.outputs[0]).shape):
        bound = int(bounds[0].data.reshape(-1)[0])
        lo, hi = (bound, 127) if layer.kind == "MAXIMUM" else (-128, bound)
        return clamp_layer(ir, layer, lo, hi)
    return binary_layer(ir, layer, prefix, f"fn_{layer.kind.lower()}_s8", None, None)
