"""One rule per ONNX op: how it becomes builtin int8 TFLite ops in NHWC.

Patterns other stages rely on (the firmware's fused kernels are tested against them):

- Conv, group 1 -> CONV_2D; group == C_in -> DEPTHWISE_CONV_2D with depth_multiplier h = C_out / C_in
  (TFLite's output channel c*h + j is PyTorch's grouped-conv order); any other group count G -> one CONV_2D
  whose filter holds C_in / G input channels (TFLite infers G = C_in / filter depth; group g's outputs are
  the g-th contiguous block, as in PyTorch; TFLM, CMSIS-NN's TFLM kernels and LiteRT run it). Weights OIHW -> OHWI, depthwise
  -> [1, kh, kw, C*h]; int32 bias = round_half_even(b / (s_in * s_w[c])). A following Relu / Clip(0, 6)
  is fused when nothing else reads the conv output. Padding that TFLite's SAME does not reproduce
  (PyTorch's symmetric padding at stride 2 on even sizes) becomes PAD + VALID.
- Max-out (MDW): DEPTHWISE_CONV_2D(depth_multiplier=h) -> RESHAPE [N, H, W, C, h] -> REDUCE_MAX(axis=4),
  all three with the same int8 parameters.
- Conv1d (the ECA conv over channels): RESHAPE to [N, 1, L, C_in] -> CONV_2D -> RESHAPE back.
- Max of two tensors -> MAXIMUM; its inputs and output share one int8 grid (the quantizer puts them in one
  group), else the inputs are requantized to the output's first.
- Sub whose only use is squaring it (Pow 2 or Mul(d, d)) and has no quantization of its own ->
  SQUARED_DIFFERENCE; Pow(x, 2) -> MUL(x, x); Div by a constant -> MUL by its reciprocal.
- LOGISTIC and SOFTMAX write TFLite's fixed output parameters (1/256, -128); ops that cannot rescale
  (REDUCE_MAX, RESHAPE, STRIDED_SLICE, PAD, pools, CONCATENATION inputs) keep their input's.
- Concat of more than 10 inputs (TFLM's limit) -> CONCATENATIONs of runs of at most 10, then of those. Where the
  QDQ graph wants other parameters, an int8 -> int8 QUANTIZE follows.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import FlynetError
from .onnx_graph import QParams, Node, QuantizedGraph
from .converter import Converter, Layout, canonical_perm, reshape_layout, same_element_order, usable_activation_params

# TFLite Micro's CONCATENATION takes at most 10 inputs (kMaxInputNum).
MAX_CONCAT_INPUTS = 10
FIXED_SIGMOID_SOFTMAX = QParams(np.array([1.0 / 256.0], dtype=np.float32), np.array([-128]))
INT32_MAX = 2**31 - 1


def check_supported(graph: QuantizedGraph) -> None:
    """One error that lists every op the converter has no rule for, with node names."""
    unsupported = [f"{n.op} ({n.name})" for n in graph.nodes if n.op not in RULES]
    if unsupported:
        raise FlynetError(f"cannot convert {len(unsupported)} op(s): {', '.join(unsupported)}; "
                          f"supported ops: {', '.join(sorted(RULES))}")


# -- helpers ---------------------------------------------------------------------------------------

def _attr_or_input(cv: Converter, node: Node, attr: str, index: int) -> np.ndarray | None:
    if attr in node.attrs:
        return np.asarray(node.attrs[attr])
    if len(node.inputs) > index and node.inputs[index]:
        value = cv.graph.const_value(node.inputs[index])
        if value is None:
            raise FlynetError(f"{node.op} {node.name}: {attr} must be a constant")
        return np.asarray(value)
    return None


def _clip_bounds(cv: Converter, node: Node) -> tuple[float | None, float | None]:
    lo = _attr_or_input(cv, node, "min", 1)
    hi = _attr_or_input(cv, node, "max", 2)
    return (None if lo is None else float(lo)), (None if hi is None else float(hi))


def _activation_name(cv: Converter, node: Node) -> str | None:
    if node.op == "Relu":
        return "RELU"
    lo, hi = _clip_bounds(cv, node)
    if lo == 0.0 and hi == 6.0:
        return "RELU6"
    if lo == 0.0 and (hi is None or np.isinf(hi)):
        return "RELU"
    return None


def fused_activation(cv: Converter, value: str) -> tuple[str, str]:
    """(fused_activation_function, value the op writes): fold a lone Relu / Clip(0, 6) reader in."""
    users = cv.graph.consumers(value)
    if len(users) != 1 or cv.graph.is_graph_output(value) or users[0].op not in ("Relu", "Clip"):
        return "NONE", value
    act = _activation_name(cv, users[0])
    after = users[0].outputs[0]
    own = cv.graph.quant.get(value)
    own = usable_activation_params(own) if own is not None else None
    if act is None or (own is not None and not own.same_as(cv.qparams(after, users[0].name))):
        return "NONE", value
    cv.skip.add(cv.graph.nodes.index(users[0]))
    return act, after


def _weights(cv: Converter, node: Node, value: str) -> tuple[np.ndarray, QParams]:
    if value not in cv.graph.weights:
        raise FlynetError(f"{node.op} {node.name}: weight {value!r} is not int8-quantized "
                          "(expected QuantizeLinear/DequantizeLinear on it)")
    data, params = cv.graph.weights[value]
    if np.any(params.zero_point != 0):
        raise FlynetError(f"{node.op} {node.name}: weight zero points must be 0 (symmetric int8 weights)")
    return data, params


def _bias(cv: Converter, node: Node, index: int, in_params: QParams, w_params: QParams, channels: int,
          with_params: bool) -> int:
    """int32 bias on the s_in * s_w grid. Per-channel conv biases carry no quantization arrays: TFLM and
    LiteRT derive their scale from input and filter (the arrays would cost 12 bytes per channel)."""
    scales = (in_params.scale.astype(np.float64) * w_params.scale.astype(np.float64)).astype(np.float32)
    value = node.inputs[index] if len(node.inputs) > index else ""
    if not value:
        data = np.zeros(channels, dtype=np.int64)
    elif value in cv.graph.weights:
        data = cv.graph.weights[value][0].astype(np.int64).ravel()
    else:
        per_channel = np.broadcast_to(scales, (channels,)).astype(np.float64)
        data = np.rint(cv.graph.consts[value].astype(np.float64) / per_channel).astype(np.int64)
    data = np.clip(data, -INT32_MAX - 1, INT32_MAX)
    name = cv.unique_name(f"{value or node.name}_bias")
    if not with_params:
        return cv.builder.add_tensor(name, [channels], "int32", data=data)
    return cv.builder.add_tensor(name, [channels], "int32", data=data, scale=scales,
                                 zero_point=np.zeros(scales.size, dtype=np.int64))


def _padding(node: Node, in_hw: list[int], kernel: list[int], strides: list[int], dilations: list[int]):
    """('SAME' | 'VALID', explicit [[before, after], ...] per spatial axis or None)."""
    rank = len(kernel)
    auto_pad = node.attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("SAME_UPPER",):
        return "SAME", None
    if auto_pad == "VALID":
        return "VALID", None
    if auto_pad == "SAME_LOWER":
        raise FlynetError(f"{node.op} {node.name}: auto_pad SAME_LOWER has no TFLite equivalent")
    pads = list(node.attrs.get("pads", [0] * (2 * rank)))
    explicit = [[pads[i], pads[i + rank]] for i in range(rank)]
    if not any(pads):
        return "VALID", None
    same = []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        same.append([total // 2, total - total // 2])
    if same == explicit:
        return "SAME", None
    return "VALID", explicit


def _emit_pad(cv: Converter, source: int, params: QParams, shape: list[int], spatial_pads, name: str) -> tuple[int, list[int]]:
    paddings = [[0, 0]] + [list(p) for p in spatial_pads] + [[0, 0]]
    padded = [d + p[0] + p[1] for d, p in zip(shape, paddings)]
    out = cv.temp(f"{name}_padded", padded, params)
    cv.builder.add_operator("PAD", [source, cv.const_int32(f"{name}_paddings", paddings)], [out])
    return out, padded


# -- convolutions ----------------------------------------------------------------------------------

def lower_conv(cv: Converter, node: Node, _i: int) -> None:
    x, w_value = node.inputs[0], node.inputs[1]
    y = node.outputs[0]
    x_shape = cv.shape(x)
    rank = len(x_shape)
    if rank not in (3, 4):
        raise FlynetError(f"Conv {node.name}: only 1-D and 2-D convolutions are supported")
    source = cv.view_as(x, canonical_perm(rank), node.name)
    w, w_params = _weights(cv, node, w_value)
    in_params = cv.params[x]
    group = int(node.attrs.get("group", 1))
    kernel = list(w.shape[2:])
    strides = list(node.attrs.get("strides", [1] * len(kernel)))
    dilations = list(node.attrs.get("dilations", [1] * len(kernel)))
    pads = list(node.attrs.get("pads", [0] * (2 * len(kernel))))
    in_shape = cv.tflite_shape(x, canonical_perm(rank))
    if rank == 3:  # Conv1d over [N, L, C] runs as a 2-D conv over [N, 1, L, C]
        w = w[:, :, None, :]
        kernel, strides, dilations = [1] + kernel, [1] + strides, [1] + dilations
        node = Node(node.op, node.name, node.inputs, node.outputs, {**node.attrs, "pads": [0, pads[0], 0, pads[1]]})
        in_shape = [in_shape[0], 1, in_shape[1], in_shape[2]]
        reshaped = cv.temp(f"{x}_as_2d", in_shape, in_params)
        cv.builder.add_operator("RESHAPE", [source, cv.const_int32(f"{x}_2d_shape", in_shape)], [reshaped],
                                {"new_shape": in_shape})
        source = reshaped
    c_in, c_out = in_shape[-1], w.shape[0]
    padding, explicit = _padding(node, in_shape[1:3], kernel, strides, dilations)
    if explicit is not None:
        source, in_shape = _emit_pad(cv, source, in_params, in_shape, explicit, node.name)
    act, y_final = fused_activation(cv, y)
    out_params = cv.qparams(y_final, node.name)
    bias = _bias(cv, node, 2, in_params, w_params, c_out, with_params=False)
    options = {"padding": padding, "stride_h": strides[0], "stride_w": strides[1],
               "dilation_h_factor": dilations[0], "dilation_w_factor": dilations[1],
               "fused_activation_function": act}
    if group == 1:
        opcode, quant_dim = "CONV_2D", 0
        w_tflite = w.transpose(0, 2, 3, 1)  # OIHW -> OHWI
    elif group == c_in and c_out % c_in == 0:
        opcode, quant_dim = "DEPTHWISE_CONV_2D", 3
        w_tflite = w.transpose(1, 2, 3, 0)  # [C*h, 1, kh, kw] -> [1, kh, kw, C*h]
        options["depth_multiplier"] = c_out // c_in
    elif c_in % group == 0 and c_out % group == 0 and w.shape[1] == c_in // group:
        opcode, quant_dim = "CONV_2D", 0  # grouped: the filter's input depth C_in / G sets the group count
        w_tflite = w.transpose(0, 2, 3, 1)
    else:
        raise FlynetError(f"Conv {node.name}: group={group} does not divide {c_in} input and {c_out} output channels")
    weights = cv.builder.add_tensor(cv.unique_name(w_value), list(w_tflite.shape), "int8", data=w_tflite,
                                    scale=w_params.scale, zero_point=w_params.zero_point,
                                    quantized_dimension=quant_dim if w_params.per_channel else 0)
    if rank == 4:
        out = cv.define(y_final, canonical_perm(4), node.name, out_params)
        cv.builder.add_operator(opcode, [source, weights, bias], [out], options)
        return
    out_shape = cv.tflite_shape(y_final, canonical_perm(3))
    conv_out = cv.temp(f"{y_final}_2d", [out_shape[0], 1, *out_shape[1:]], out_params)
    cv.builder.add_operator(opcode, [source, weights, bias], [conv_out], options)
    out = cv.define(y_final, canonical_perm(3), node.name, out_params)
    cv.builder.add_operator("RESHAPE", [conv_out, cv.const_int32(f"{y_final}_shape", out_shape)], [out],
                            {"new_shape": out_shape})


def lower_gemm(cv: Converter, node: Node, _i: int) -> None:
    x, w_value = node.inputs[0], node.inputs[1]
    if len(cv.shape(x)) != 2:
        raise FlynetError(f"{node.op} {node.name}: only 2-D inputs are supported (flatten first)")
    if node.attrs.get("transA", 0) or node.attrs.get("alpha", 1.0) != 1.0 or node.attrs.get("beta", 1.0) != 1.0:
        raise FlynetError(f"Gemm {node.name}: transA, alpha and beta other than defaults are not supported")
    w, w_params = _weights(cv, node, w_value)
    transposed = node.op == "MatMul" or not node.attrs.get("transB", 0)
    if transposed:  # stored [in, out]; TFLite wants [out, in]
        if w_params.per_channel and w_params.axis != 1:
            raise FlynetError(f"{node.op} {node.name}: weights quantized per input feature are not supported")
        w = w.T
    layout = cv.layouts[x]
    if layout.feature_order is not None:
        w = w[:, layout.feature_order]
    elif layout.perm != (0, 1):
        raise FlynetError(f"{node.op} {node.name}: input {x!r} is stored transposed: not supported")
    in_params = cv.params[x]
    act, y_final = fused_activation(cv, node.outputs[0])
    out_params = cv.qparams(y_final, node.name)
    weights = cv.builder.add_tensor(cv.unique_name(w_value), list(w.shape), "int8", data=w,
                                    scale=w_params.scale, zero_point=w_params.zero_point)
    bias = _bias(cv, node, 2, in_params, w_params, w.shape[0], with_params=True)
    out = cv.define(y_final, (0, 1), node.name, out_params)
    cv.builder.add_operator("FULLY_CONNECTED", [cv.tensor(x), weights, bias], [out],
                            {"fused_activation_function": act, "keep_num_dims": False})


# -- elementwise -----------------------------------------------------------------------------------

def _operand(cv: Converter, node: Node, value: str, perm: tuple[int, ...], out_rank: int) -> int:
    """Tensor index of an elementwise operand; constants are quantized and laid out like the output."""
    if value in cv.tensors:
        if len(cv.shape(value)) == out_rank:
            return cv.view_as(value, perm, node.name)
        if int(np.prod(cv.shape(value))) != 1:
            raise FlynetError(f"{node.op} {node.name}: broadcasting operands of different rank is not supported")
        return cv.tensors[value]
    if value in cv.graph.weights:
        data, params = cv.graph.weights[value]
        if params.per_channel:
            raise FlynetError(f"{node.op} {node.name}: per-channel constant operands are not supported")
    elif value in cv.graph.consts:
        data, params = _quantize_constant(cv.graph.consts[value])
    else:
        raise FlynetError(f"{node.op} {node.name}: operand {value!r} is undefined")
    data = np.asarray(data).reshape((1,) * (out_rank - np.ndim(data)) + np.shape(data)).transpose(perm)
    return cv.builder.add_tensor(cv.unique_name(value), list(data.shape), "int8", data=data,
                                 scale=params.scale, zero_point=params.zero_point)


def _quantize_constant(data: np.ndarray) -> tuple[np.ndarray, QParams]:
    """Symmetric per-tensor int8; a scalar c is exact (127 * c / 127)."""
    data = np.asarray(data, dtype=np.float32)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    q = np.clip(np.rint(data / scale), -127, 127).astype(np.int64)
    return q, QParams(np.array([scale], dtype=np.float32), np.array([0]))


def _binary_layout(cv: Converter, node: Node, operands: list[str]) -> tuple[tuple[int, ...], int]:
    out_rank = len(cv.shape(node.outputs[0]))
    ranked = [v for v in operands if v in cv.tensors and len(cv.shape(v)) == out_rank]
    perm = cv.layouts[ranked[0]].perm if ranked else tuple(range(out_rank))
    return perm, out_rank


def _emit_binary(cv: Converter, node: Node, opcode: str, a: str, b: str) -> None:
    perm, rank = _binary_layout(cv, node, [a, b])
    act, y_final = fused_activation(cv, node.outputs[0]) if opcode in ("ADD", "SUB", "MUL") else ("NONE", node.outputs[0])
    inputs = [_operand(cv, node, a, perm, rank), _operand(cv, node, b, perm, rank)]
    out = cv.define(y_final, perm, node.name)
    options = {"fused_activation_function": act} if opcode in ("ADD", "SUB", "MUL") else None
    cv.builder.add_operator(opcode, inputs, [out], options)


def lower_max(cv: Converter, node: Node, _i: int) -> None:
    values = [v for v in node.inputs if v]
    if len(values) != 2:
        raise FlynetError(f"Max {node.name}: only the maximum of two tensors is supported, got {len(values)}")
    y = node.outputs[0]
    perm, rank = _binary_layout(cv, node, values)
    if any(v not in cv.tensors or len(cv.shape(v)) != rank for v in values):
        raise FlynetError(f"Max {node.name}: both operands must be activations of the output's rank")
    out_params = cv.qparams(y, node.name)
    inputs = [cv.emit_requantize(cv.view_as(v, perm, node.name), cv.params[v], out_params, cv.tflite_shape(v, perm),
                                 f"{node.name}_in{k}_requant") for k, v in enumerate(values)]
    out = cv.define(y, perm, node.name, out_params)
    cv.builder.add_operator("MAXIMUM", inputs, [out])


def _squares(cv: Converter, user: Node, value: str) -> bool:
    if user.op == "Mul":
        return user.inputs[0] == value and user.inputs[1] == value
    if user.op == "Pow":
        exponent = cv.graph.const_value(user.inputs[1])
        return exponent is not None and float(exponent) == 2.0
    return False


def lower_sub(cv: Converter, node: Node, _i: int) -> None:
    d = node.outputs[0]
    users = cv.graph.consumers(d)
    if d not in cv.graph.quant and len(users) == 1 and _squares(cv, users[0], d):
        cv.skip.add(cv.graph.nodes.index(users[0]))
        squared = Node("SquaredDifference", node.name, node.inputs, users[0].outputs)
        _emit_binary(cv, squared, "SQUARED_DIFFERENCE", node.inputs[0], node.inputs[1])
        return
    _emit_binary(cv, node, "SUB", node.inputs[0], node.inputs[1])


def lower_add(cv: Converter, node: Node, _i: int) -> None:
    _emit_binary(cv, node, "ADD", node.inputs[0], node.inputs[1])


def lower_mul(cv: Converter, node: Node, _i: int) -> None:
    _emit_binary(cv, node, "MUL", node.inputs[0], node.inputs[1])


def lower_div(cv: Converter, node: Node, _i: int) -> None:
    divisor = cv.graph.const_value(node.inputs[1])
    if divisor is None or node.inputs[1] in cv.graph.weights:
        raise FlynetError(f"Div {node.name}: only division by a float constant is supported")
    reciprocal = f"{node.inputs[1]}_reciprocal"
    cv.graph.consts[reciprocal] = (1.0 / divisor.astype(np.float64)).astype(np.float32)
    _emit_binary(cv, node, "MUL", node.inputs[0], reciprocal)


def lower_pow(cv: Converter, node: Node, _i: int) -> None:
    if not _squares(cv, node, node.inputs[0]):
        raise FlynetError(f"Pow {node.name}: only the exponent 2 is supported")
    _emit_binary(cv, node, "MUL", node.inputs[0], node.inputs[0])


# -- activations -----------------------------------------------------------------------------------

def lower_relu(cv: Converter, node: Node, _i: int) -> None:
    act = _activation_name(cv, node)
    if act is None:
        raise FlynetError(f"Clip {node.name}: only Clip(0, 6) and Clip(0, inf) are supported")
    x, y = node.inputs[0], node.outputs[0]
    out = cv.define(y, cv.layouts[x].perm, node.name)
    cv.builder.add_operator(act, [cv.tensor(x)], [out])


def lower_sigmoid(cv: Converter, node: Node, _i: int) -> None:
    x = node.inputs[0]
    cv.emit_with_params("LOGISTIC", [cv.tensor(x)], node.outputs[0], cv.layouts[x].perm, node.name,
                        FIXED_SIGMOID_SOFTMAX)


def lower_softmax(cv: Converter, node: Node, _i: int) -> None:
    x = node.inputs[0]
    rank = len(cv.shape(x))
    if cv.remap_axis(x, node.attrs.get("axis", -1)) != rank - 1:
        raise FlynetError(f"Softmax {node.name}: its axis is not the innermost one in NHWC: not supported")
    cv.emit_with_params("SOFTMAX", [cv.tensor(x)], node.outputs[0], cv.layouts[x].perm, node.name,
                        FIXED_SIGMOID_SOFTMAX, {"beta": 1.0})


def lower_hardswish(cv: Converter, node: Node, _i: int) -> None:
    x = node.inputs[0]
    out = cv.define(node.outputs[0], cv.layouts[x].perm, node.name)
    cv.builder.add_operator("HARD_SWISH", [cv.tensor(x)], [out])


# -- reductions and pooling ------------------------------------------------------------------------

def _reduce_axes(cv: Converter, node: Node) -> list[int]:
    axes = _attr_or_input(cv, node, "axes", 1)
    rank = len(cv.shape(node.inputs[0]))
    if axes is None:
        return list(range(rank))
    return sorted(int(a) % rank for a in np.atleast_1d(axes))


def lower_reduce(cv: Converter, node: Node, _i: int) -> None:
    x, y = node.inputs[0], node.outputs[0]
    axes = _reduce_axes(cv, node)
    keep = bool(node.attrs.get("keepdims", 1))
    in_perm = cv.layouts[x].perm
    if keep:
        out_perm = in_perm
    else:
        kept = [a for a in in_perm if a not in axes]
        out_perm = tuple(sum(1 for b in kept if b < a) for a in kept)
    tflite_axes = sorted(in_perm.index(a) for a in axes)
    inputs = [cv.tensor(x), cv.const_int32(f"{node.name}_axes", tflite_axes)]
    if node.op == "ReduceMax":
        cv.emit_with_params("REDUCE_MAX", inputs, y, out_perm, node.name, cv.params[x], {"keep_dims": keep})
    else:
        out = cv.define(y, out_perm, node.name)
        cv.builder.add_operator("MEAN", inputs, [out], {"keep_dims": keep})


def lower_global_average_pool(cv: Converter, node: Node, _i: int) -> None:
    x = node.inputs[0]
    source = cv.view_as(x, canonical_perm(4), node.name)
    out = cv.define(node.outputs[0], canonical_perm(4), node.name)
    cv.builder.add_operator("MEAN", [source, cv.const_int32(f"{node.name}_axes", [1, 2])], [out],
                            {"keep_dims": True})


def lower_pool(cv: Converter, node: Node, _i: int) -> None:
    x = node.inputs[0]
    source = cv.view_as(x, canonical_perm(4), node.name)
    kernel = list(node.attrs["kernel_shape"])
    strides = list(node.attrs.get("strides", [1, 1]))
    if any(d != 1 for d in node.attrs.get("dilations", [1, 1])) or node.attrs.get("ceil_mode", 0):
        raise FlynetError(f"{node.op} {node.name}: dilation and ceil_mode are not supported")
    padding, explicit = _padding(node, cv.tflite_shape(x)[1:3], kernel, strides, [1, 1])
    is_average = node.op == "AveragePool"
    if explicit is not None or (is_average and padding == "SAME" and node.attrs.get("count_include_pad", 0)):
        raise FlynetError(f"{node.op} {node.name}: this padding has no TFLite pooling equivalent")
    options = {"padding": padding, "stride_h": strides[0], "stride_w": strides[1],
               "filter_height": kernel[0], "filter_width": kernel[1]}
    cv.emit_with_params("AVERAGE_POOL_2D" if is_average else "MAX_POOL_2D", [source], node.outputs[0],
                        canonical_perm(4), node.name, cv.params[x], options)


# -- data movement ---------------------------------------------------------------------------------

def lower_reshape(cv: Converter, node: Node, _i: int) -> None:
    x, y = node.inputs[0], node.outputs[0]
    layout = cv.layouts[x]
    if layout.feature_order is not None:
        raise FlynetError(f"{node.op} {node.name}: reshaping a flattened NCHW feature vector again is not supported")
    perm, order = reshape_layout(cv.shape(x), layout.perm, cv.shape(y), cv.preferred_perms(y))
    new_shape = cv.tflite_shape(y, perm)
    want = cv.qparams(y, node.name)
    source_params = cv.params[x]
    users = cv.graph.consumers(y)
    if (users and all(u.op in RESHAPES for u in users) and not cv.graph.is_graph_output(y)
            and source_params.same_as(want) and order is None):
        # Reshape of a reshape: only the last one is emitted, straight from this one's input.
        cv.tensors[y], cv.layouts[y], cv.params[y] = cv.tensor(x), Layout(perm), source_params
        return
    inputs = [cv.tensor(x), cv.const_int32(f"{node.name}_shape", new_shape)]
    if source_params.same_as(want):
        out = cv.define(y, perm, node.name, want, order)
        cv.builder.add_operator("RESHAPE", inputs, [out], {"new_shape": new_shape})
        return
    mid = cv.temp(f"{y}_reshaped", new_shape, source_params)
    cv.builder.add_operator("RESHAPE", inputs, [mid], {"new_shape": new_shape})
    out = cv.define(y, perm, node.name, want, order)
    cv.builder.add_operator("QUANTIZE", [mid], [out])


RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


def lower_identity(cv: Converter, node: Node, _i: int) -> None:
    x, y = node.inputs[0], node.outputs[0]
    cv.tensors[y], cv.layouts[y], cv.params[y] = cv.tensors[x], cv.layouts[x], cv.params[x]


def lower_concat(cv: Converter, node: Node, _i: int) -> None:
    y = node.outputs[0]
    values = [v for v in node.inputs if v]
    rank = len(cv.shape(y))
    axis = node.attrs.get("axis", 1) % rank
    perm = next((p for p in cv.preferred_perms(y) if all(_viewable(cv, v, p) for v in values)), None)
    if perm is None:
        raise FlynetError(f"Concat {node.name}: its inputs are stored in layouts that need a transpose: not supported")
    out_params = cv.qparams(y, node.name)
    inputs, shapes = [], []
    for k, v in enumerate(values):
        source = cv.view_as(v, perm, node.name)
        shapes.append(cv.tflite_shape(v, perm))
        inputs.append(cv.emit_requantize(source, cv.params[v], out_params, shapes[-1], f"{node.name}_in{k}_requant"))
    options = {"axis": perm.index(axis), "fused_activation_function": "NONE"}
    while len(inputs) > MAX_CONCAT_INPUTS:  # TFLM's limit: concatenate runs of inputs first
        partial_inputs, partial_shapes = [], []
        for start in range(0, len(inputs), MAX_CONCAT_INPUTS):
            run, run_shapes = inputs[start:start + MAX_CONCAT_INPUTS], shapes[start:start + MAX_CONCAT_INPUTS]
            shape = list(run_shapes[0])
            shape[options["axis"]] = sum(s[options["axis"]] for s in run_shapes)
            partial = cv.temp(f"{node.name}_part{start // MAX_CONCAT_INPUTS}", shape, out_params) if len(run) > 1 \
                else run[0]
            if len(run) > 1:
                cv.builder.add_operator("CONCATENATION", run, [partial], dict(options))
            partial_inputs.append(partial)
            partial_shapes.append(shape)
        inputs, shapes = partial_inputs, partial_shapes
    out = cv.define(y, perm, node.name, out_params)
    cv.builder.add_operator("CONCATENATION", inputs, [out], options)


def _viewable(cv: Converter, value: str, perm: tuple[int, ...]) -> bool:
    layout = cv.layouts[value]
    if layout.feature_order is not None:
        return False
    shape = cv.shape(value)
    return layout.perm == perm or same_element_order(shape, layout.perm, shape, perm)


def lower_transpose(cv: Converter, node: Node, _i: int) -> None:
    """A transpose is only a new name for the same TFLite tensor in another layout: no op."""
    x, y = node.inputs[0], node.outputs[0]
    rank = len(cv.shape(x))
    p = list(node.attrs.get("perm", list(reversed(range(rank)))))
    inverse = [p.index(a) for a in range(rank)]
    layout = cv.layouts[x]
    if layout.feature_order is not None:
        raise FlynetError(f"Transpose {node.name}: transposing a flattened NCHW feature vector is not supported")
    perm = tuple(inverse[a] for a in layout.perm)
    want = cv.qparams(y, node.name)
    if not cv.params[x].same_as(want):
        raise FlynetError(f"Transpose {node.name}: output quantized differently from its input: not supported")
    cv.tensors[y], cv.layouts[y], cv.params[y] = cv.tensors[x], Layout(perm), cv.params[x]


def lower_slice(cv: Converter, node: Node, _i: int) -> None:
    x, y = node.inputs[0], node.outputs[0]
    shape = cv.shape(x)
    rank = len(shape)
    starts = _attr_or_input(cv, node, "starts", 1)
    ends = _attr_or_input(cv, node, "ends", 2)
    axes = _attr_or_input(cv, node, "axes", 3)
    steps = _attr_or_input(cv, node, "steps", 4)
    axes = list(range(len(starts))) if axes is None else [int(a) % rank for a in np.atleast_1d(axes)]
    steps = [1] * len(axes) if steps is None else [int(s) for s in np.atleast_1d(steps)]
    begin, end, stride = [0] * rank, list(shape), [1] * rank
    for a, s, e, st in zip(axes, np.atleast_1d(starts), np.atleast_1d(ends), steps):
        if st <= 0:
            raise FlynetError(f"Slice {node.name}: only positive steps are supported")
        dim = shape[a]
        s, e = int(s), int(e)
        s = min(max(s + dim if s < 0 else s, 0), dim)
        e = min(max(e + dim if e < 0 else e, 0), dim)
        begin[a], end[a], stride[a] = s, e, st
    perm = cv.layouts[x].perm
    inputs = [cv.tensor(x), cv.const_int32(f"{node.name}_begin", [begin[p] for p in perm]),
              cv.const_int32(f"{node.name}_end", [end[p] for p in perm]),
              cv.const_int32(f"{node.name}_strides", [stride[p] for p in perm])]
    cv.emit_with_params("STRIDED_SLICE", inputs, y, perm, node.name, cv.params[x],
                        {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
                         "shrink_axis_mask": 0})


def lower_pad(cv: Converter, node: Node, _i: int) -> None:
    x, y = node.inputs[0], node.outputs[0]
    mode = node.attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise FlynetError(f"Pad {node.name}: mode {mode!r} is not supported, only constant")
    pads = _attr_or_input(cv, node, "pads", 1)
    fill = _attr_or_input(cv, node, "value", 2)
    if fill is not None and np.size(fill) and float(np.ravel(fill)[0]) != 0.0:
        raise FlynetError(f"Pad {node.name}: only zero padding is supported")
    rank = len(cv.shape(x))
    pads = [int(p) for p in pads]
    if len(node.inputs) > 3 and node.inputs[3]:
        raise FlynetError(f"Pad {node.name}: the axes input is not supported")
    perm = cv.layouts[x].perm
    paddings = [[pads[p], pads[p + rank]] for p in perm]
    inputs = [cv.tensor(x), cv.const_int32(f"{node.name}_paddings", paddings)]
    cv.emit_with_params("PAD", inputs, y, perm, node.name, cv.params[x])


RULES: dict[str, Callable[[Converter, Node, int], None]] = {
    "Conv": lower_conv,
    "Gemm": lower_gemm,
    "MatMul": lower_gemm,
    "Add": lower_add,
    "Sub": lower_sub,
    "Mul": lower_mul,
    "Max": lower_max,
    "Div": lower_div,
    "Pow": lower_pow,
    "Relu": lower_relu,
    "Clip": lower_relu,
    "Sigmoid": lower_sigmoid,
    "Softmax": lower_softmax,
    "HardSwish": lower_hardswish,
    "ReduceMean": lower_reduce,
    "ReduceMax": lower_reduce,
    "GlobalAveragePool": lower_global_average_pool,
    "AveragePool": lower_pool,
    "MaxPool": lower_pool,
    "Reshape": lower_reshape,
    "Flatten": lower_reshape,
    "Squeeze": lower_reshape,
    "Unsqueeze": lower_reshape,
    "Concat": lower_concat,
    "Slice": lower_slice,
    "Pad": lower_pad,
    "Transpose": lower_transpose,
    "Identity": lower_identity,
    "Dropout": lower_identity,
}
