"""MicroNet's layers (fuse_micronet.py finds them): grouped conv, channel gather, fused Shift-Max, and runs
of functions of one int8 value as one table."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..graph import Layer, ModelIR, dims4
from ..host_kernels import shared_kernels, table_inputs
from ..layer_code import ConstArray, LayerCode, ParamObject, ScratchQuery, dims_object, shape_text
from ..overlap import Blocks, Overlap
from .activation import table_layer
from .common import scale_of, status_call
from .conv import _conv_common
from .registry import emitter, unsupported


@emitter("GROUP_CONV_2D")
def _group_conv(ir: ModelIR, layer: Layer, prefix: str) -> LayerCode:
    conv_op = layer.ops[-1]
    inner = Layer("CONV_2D", [conv_op], [layer.inputs[0]], list(layer.outputs))
    channel_map = layer.attrs.get("channel_map")
    code = _conv_common(ir, inner, prefix, "group", channel_map=channel_map)
    groups = ir.tensor(layer.inputs[0]).shape[3] // int(ir.constant(inner, 1).shape[3])
    code.summary += f", {groups} groups" + (", channel shuffle folded in" if channel_map is not None else "")
    return code


@emitter("CHANNEL_GATHER")
def _channel_gather(ir: ModelIR, layer: Layer, prefix: str) -> LayerCode:
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    channel_map = layer.attrs["channel_map"]
    pixels = x.shape[0] * x.shape[1] * x.shape[2]
    array = ConstArray(f"{prefix}_channel_map", "int16_t", channel_map)
    statements = status_call(f"fn_channel_gather_s8({pixels}, {x.shape[3]}, {out.shape[3]}, {array.name}, @IN0@, @OUT0@)")
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, channels reordered", statements, [array])


def _op_activation(ir: ModelIR, op) -> tuple[int, int]:
    activation = op.options.get("fused_activation_function", "NONE")
    if activation not in ("NONE", "RELU", "RELU6"):
        raise ValueError(f"fused activation {activation} inside Shift-Max is not supported")
    return qp.activation_range(activation, *scale_of(ir, op.outputs[0]))


def _mul(ir: ModelIR, op, operand: int, coefficient: int) -> dict:
    params = qp.mul_params(*scale_of(ir, operand), *scale_of(ir, coefficient), *scale_of(ir, op.outputs[0]))
    params["act_min"], params["act_max"] = _op_activation(ir, op)
    return params


@emitter("SHIFT_MAX")
def _shift_max(ir: ModelIR, layer: Layer, prefix: str) -> LayerCode:
    x_index, vector = layer.inputs
    x, out = ir.tensor(x_index), ir.tensor(layer.outputs[0])
    fusions = layer.attrs["fusions"]
    if len(x.shape) != 4 or out.shape != x.shape:
        raise unsupported(ir, layer, "a Shift-Max whose input and output shapes differ")
    shifted = layer.attrs["shifted"]
    params = {"fusions": len(fusions), "shift": layer.attrs["shift"]}
    for k in range(2):
        f = fusions[min(k, len(fusions) - 1)]  # K = 1 repeats fusion 0 in the unused slot
        mul_a, mul_b, add = f["mul_a"].op, f["mul_b"].op, f["add"].op
        params[f"a{k}_offset"], params[f"b{k}_offset"] = f["a_offset"], f["b_offset"]
        params[f"mul_a{k}"] = _mul(ir, mul_a, x_index, f["a"])
        params[f"mul_b{k}"] = _mul(ir, mul_b, shifted, f["b"])
        products = [mul_a.outputs[0], mul_b.outputs[0]]
        add_params = qp.add_params(*scale_of(ir, products[0]), *scale_of(ir, products[1]),
                                   *scale_of(ir, add.outputs[0]))
        add_params["act_min"], add_params["act_max"] = _op_activation(ir, add)
        params[f"add{k}"] = add_params
    dims, coefficient_dims = dims4(x.shape), dims4(ir.tensor(vector).shape)
    objects = [ParamObject("params", "fn_shift_max_params", params), dims_object("dims", dims)]
    statements = status_call("fn_shift_max_s8(&params, &dims, @IN0@, @IN1@, @OUT0@, @SCRATCH@)")
    summary = f"{shape_text(x.shape)}, K = {len(fusions)}, shift {layer.attrs['shift']}"
    return LayerCode(summary, statements, [], ScratchQuery("fn_shift_max_s8_get_buffer_size", (dims, coefficient_dims),
                                                           "&dims, &coefficient_dims"),
                     objects=objects + [dims_object("coefficient_dims", coefficient_dims)],
                     overlap=Overlap(0, (Blocks(dims[0] * dims[1] * dims[2], dims[3], dims[3]),),
                                     "pixel by pixel: a pixel's channels are copied to the scratch, then written"))


def _apply_unary(ir: ModelIR, op, values: np.ndarray) -> np.ndarray:
    """One op of a TABLE_CHAIN on int8 `values` (its activation operand), by the host kernel of the op."""
    kernels = shared_kernels()
    x = next(t for t in op.inputs if ir.tensor(t).data is None)
    if op.opcode == "HARD_SWISH":
        return kernels.hard_swish(values, qp.hard_swish_params(*scale_of(ir, x), *scale_of(ir, op.outputs[0])))
    if op.opcode == "LOGISTIC":
        return kernels.logistic(values, qp.logistic_params(*scale_of(ir, x)))
    constant = next(t for t in op.inputs if t >= 0 and ir.tensor(t).data is not None)
    operands = [values, ir.tensor(constant).data.reshape(1).astype(np.int8)]
    grids = [scale_of(ir, x), scale_of(ir, constant)]
    make = qp.add_params if op.opcode == "ADD" else qp.mul_params  # both symmetric in their operands
    params = make(*grids[0], *grids[1], *scale_of(ir, op.outputs[0]))
    params["act_min"], params["act_max"] = _op_activation(ir, op)
    return (kernels.add if op.opcode == "ADD" else kernels.mul)(*operands, params)


@emitter("TABLE_CHAIN")
def _table_chain(ir: ModelIR, layer: Layer, prefix: str) -> LayerCode:
    values = table_inputs()
    for op in layer.ops:
        values = _apply_unary(ir, op, values).reshape(256)
    code = table_layer(ir, layer, prefix, values)
    code.summary += f" ({' + '.join(op.opcode for op in layer.ops)})"
    return code
