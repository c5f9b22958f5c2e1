"""Functions of one int8 value as lookup tables (HARD_SWISH, LOGISTIC, TANH, the RELUs, LEAKY_RELU);
PRELU (alpha is a tensor); SOFTMAX."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..graph import Layer, ModelIR
from ..host_kernels import shared_kernels, table_inputs, trimmed_table
from ..layer_code import ConstArray, LayerCode, ParamObject, shape_text
from ..overlap import Blocks, Overlap
from .common import scale_of, status_call
from .elementwise import binary_layer, clamp_layer
from .registry import emitter, unsupported


def table_layer(ir: ModelIR, layer: Layer, prefix: str, values: np.ndarray) -> LayerCode:
    """A function of one int8 value as fn_lut_s8 over a table in flash: `values` is the fixed-point
    kernel's output on every input value (host build, bit-exact), so the firmware gets the same bytes
    from one load per value and never links the fixed-point code. The constant ends stay out of the
    table (the kernel clamps the input to lo..hi). A table that is the identity between its ends (RELU6,
    RELU on the input's quantization) is a clamp, one that is the identity throughout a view."""
    lo, hi, table = trimmed_table(values)
    if np.array_equal(table, np.arange(lo, hi + 1)):  # the trimmed ends hold lo and hi: a clamp
        return clamp_layer(ir, layer, lo, hi)
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    array = ConstArray(f"{prefix}_table", "int8_t", table)
    statements = status_call(f"fn_lut_s8({array.name}, {lo}, {hi}, {int(np.prod(x.shape))}, @IN0@, @OUT0@)")
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, a table of inputs {lo}..{hi}",
                     statements, [array], overlap=_elementwise(int(np.prod(x.shape))))


def _elementwise(size: int) -> Overlap:
    return Overlap(0, (Blocks(size),), "elementwise: element i is written after it was read")


@emitter("HARD_SWISH")
def _hard_swish(ir, layer, prefix):
    params = qp.hard_swish_params(*scale_of(ir, layer.inputs[0]), *scale_of(ir, layer.outputs[0]))
    return table_layer(ir, layer, prefix, shared_kernels().hard_swish(table_inputs(), params))


@emitter("LOGISTIC")
def _logistic(ir, layer, prefix):
    out = ir.tensor(layer.outputs[0])
    if not (float(out.scale[0]) == 1.0 / 256 and int(out.zero_point[0]) == -128):
        raise unsupported(ir, layer, "a LOGISTIC output other than scale 1/256, zero point -128")
    params = qp.logistic_params(*scale_of(ir, layer.inputs[0]))
    return table_layer(ir, layer, prefix, shared_kernels().logistic(table_inputs(), params))


@emitter("TANH")
def _tanh(ir, layer, prefix):
    """TFLM writes tanh in 1/128 steps around 0 whatever the output tensor's quantization (the
    converter's is exactly that), so the table does too."""
    params = qp.tanh_params(*scale_of(ir, layer.inputs[0]))
    return table_layer(ir, layer, prefix, shared_kernels().tanh(table_inputs(), params))


@emitter("RELU", "RELU_N1_TO_1")
def _relu(ir, layer, prefix):
    params = qp.relu_params(layer.kind, *scale_of(ir, layer.inputs[0]), *scale_of(ir, layer.outputs[0]))
    return table_layer(ir, layer, prefix, shared_kernels().relu(table_inputs(), params))


@emitter("RELU6")
def _relu6(ir, layer, prefix):
    """TFLM clamps the raw input to its own quantized 0 and 6 and ignores the output's quantization."""
    params = qp.relu6_params(*scale_of(ir, layer.inputs[0]))
    return table_layer(ir, layer, prefix, shared_kernels().relu(table_inputs(), params))


@emitter("LEAKY_RELU")
def _leaky_relu(ir, layer, prefix):
    params = qp.leaky_relu_params(*scale_of(ir, layer.inputs[0]), *scale_of(ir, layer.outputs[0]),
                                  float(layer.options.get("alpha", 0.0)))
    return table_layer(ir, layer, prefix, shared_kernels().leaky_relu(table_inputs(), params))


@emitter("PRELU")
def _prelu(ir, layer, prefix):
    op = layer.op
    alpha = ir.tensor(op.inputs[1])
    if alpha.scale is None:
        raise unsupported(ir, layer, "a PRELU alpha without int8 quantization")
    params = qp.prelu_params(*scale_of(ir, op.inputs[0]), *scale_of(ir, op.inputs[1]), *scale_of(ir, op.outputs[0]))
    return binary_layer(ir, layer, prefix, "fn_prelu_s8", "fn_prelu_params", params)


@emitter("SOFTMAX")
def _softmax(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if not (float(out.scale[0]) == 1.0 / 256 and int(out.zero_point[0]) == -128):
        raise unsupported(ir, layer, "a SOFTMAX output other than scale 1/256, zero point -128")
    params = qp.softmax_params(float(x.scale[0]), float(layer.options.get("beta", 1.0)))
    depth = int(x.shape[-1])
    rows = int(np.prod(x.shape)) // depth
    # Each row is read whole (its max, its sum of exponentials) before its last pass writes element c
    # after reading it: in place, rows and elements in order, is safe.
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, beta {layer.options.get('beta', 1.0):g}",
                     status_call(f"fn_softmax_s8(&params, {rows}, {depth}, @IN0@, @OUT0@)"),
                     objects=[ParamObject("params", "fn_softmax_params", params)],
                     overlap=_elementwise(rows * depth))
