"""The mean-and-variance-aware ECA chain, fused into one fn_eca_s8 call."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..graph import Layer, dims4
from ..layer_code import ConstArray, LayerCode, ParamObject, ScratchQuery, dims_object, shape_text
from ..overlap import ChannelMajor, Overlap
from .common import scale_of, status_call
from .registry import emitter, unsupported


def _ops_of(layer: Layer, *opcodes: str) -> list:
    return [op for op in layer.ops if op.opcode in opcodes]


@emitter("ECA")
def _eca(ir, layer, prefix):
    (mean_op, var_op), (sqdiff_op,) = _ops_of(layer, "MEAN"), _ops_of(layer, "SQUARED_DIFFERENCE")
    (concat_op,), (conv_op,) = _ops_of(layer, "CONCATENATION"), _ops_of(layer, "CONV_2D")
    (gate_op,), (mul_op,) = _ops_of(layer, "LOGISTIC", "SOFTMAX"), _ops_of(layer, "MUL")
    x_index = layer.inputs[0]
    x, out = ir.tensor(x_index), ir.tensor(layer.outputs[0])
    mu, var = mean_op.outputs[0], var_op.outputs[0]
    gate_out = gate_op.outputs[0]
    if ir.tensor(gate_out).scale[0] != np.float32(1.0 / 256) or int(ir.tensor(gate_out).zero_point[0]) != -128:
        raise unsupported(ir, layer, f"an ECA {gate_op.opcode} output other than scale 1/256, zero point -128")
    sq_params = qp.squared_difference_params(*scale_of(ir, x_index), *scale_of(ir, mu),
                                             *scale_of(ir, sqdiff_op.outputs[0]))
    # (x - mu)^2 is symmetric, so the kernel's fixed order (x first) fits either operand order.
    weights = ir.constant(layer, 1, conv_op)
    bias = ir.constant(layer, 2, conv_op)
    cat = concat_op.outputs[0]
    conv_out = conv_op.outputs[0]
    (conv_m,), (conv_s,) = qp.conv_channel_quant(
        scale_of(ir, cat)[0], np.atleast_1d(ir.tensor(conv_op.inputs[1]).scale), scale_of(ir, conv_out)[0])
    gate_in = gate_op.inputs[0]
    heads = int(ir.tensor(gate_in).shape[-1])
    logistic = qp.logistic_params(*scale_of(ir, gate_in)) if gate_op.opcode == "LOGISTIC" else \
        {"input_zero_point": 0, "input_range_radius": 0, "input_multiplier": 0, "input_left_shift": 0}
    softmax = qp.softmax_params(scale_of(ir, gate_in)[0], float(gate_op.options.get("beta", 1.0))) \
        if gate_op.opcode == "SOFTMAX" else {"input_multiplier": 0, "input_left_shift": 0, "diff_min": 0}
    gate_scaled = mul_op.inputs[1] if mul_op.inputs[0] == x_index else mul_op.inputs[0]
    mul = qp.mul_params(*scale_of(ir, x_index), *scale_of(ir, gate_scaled), *scale_of(ir, mul_op.outputs[0]))
    mul["act_min"], mul["act_max"] = qp.activation_range(
        mul_op.options.get("fused_activation_function", "NONE"), *scale_of(ir, mul_op.outputs[0]))
    params = {
        "mean": qp.mean_params(*scale_of(ir, x_index), *scale_of(ir, mu)),
        **{f"sqdiff_{k}": v for k, v in sq_params.items()},
        "var_mean": qp.mean_params(*scale_of(ir, sqdiff_op.outputs[0]), *scale_of(ir, var)),
        "kernel_size": int(weights.shape[2]),
        "kernel": f"{prefix}_kernel",
        "conv_bias": int(bias.reshape(-1)[0]) if bias is not None else 0,
        "conv_input_offset": -scale_of(ir, cat)[1], "conv_output_offset": scale_of(ir, conv_out)[1],
        "conv_multiplier": int(conv_m), "conv_shift": int(conv_s),
        "use_softmax": int(gate_op.opcode == "SOFTMAX"), "heads": heads if gate_op.opcode == "SOFTMAX" else 1,
        "logistic": logistic, "softmax": softmax, "mul": mul,
    }
    dims = dims4(x.shape)
    gate_text = f"softmax over {heads} heads" if gate_op.opcode == "SOFTMAX" else "sigmoid"
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, mean+variance ECA, "
                     f"k={int(weights.shape[2])}, {gate_text}",
                     status_call("fn_eca_s8(&params, &dims, @IN0@, @OUT0@, @SCRATCH@)"),
                     [ConstArray(f"{prefix}_kernel", "int8_t", weights.reshape(-1))],
                     ScratchQuery("fn_eca_s8_get_buffer_size", (dims,), "&dims"),
                     overlap=Overlap(0, (ChannelMajor(dims),),
                                     "the statistics read the whole map first; then x * gate element by element"),
                     objects=[ParamObject("params", "fn_eca_params", params), dims_object("dims", dims)])
