"""Per-layer C: one kernel call of firmware/kernels/flynet_kernels.h per layer.

Each emitter turns one IR layer into a `LayerCode`: the C statements of the
call (with `@IN0@`, `@OUT0@`, `@SCRATCH@` standing for buffer addresses until
the memory plan fixes them), the constant arrays it needs in flash, the
kernel's scratch query, and whether its output may overwrite an input.
Every kernel parameter is computed here, at generation time, with the kernel
library's TFLM-identical helpers (`quant_params`), so the C holds only numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import FlynetError
from ..int8 import kernel_params as qp
from .graph import Layer, ModelIR, dims4, layer_label, same_quantization
from .host_kernels import shared_kernels, table_inputs, trimmed_table


@dataclass
class ConstArray:
    name: str
    ctype: str          # "int8_t" or "int32_t"
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.values.size) * (1 if self.ctype == "int8_t" else 4)


@dataclass
class ScratchQuery:
    """The kernel's `*_get_buffer_size` call: the function and its fn_dims arguments."""

    function: str
    dims: tuple[tuple[int, int, int, int], ...]
    c_args: str  # the same arguments as C expressions, for the generated size check


@dataclass
class LayerCode:
    summary: str                                   # one line for the comment above the call
    statements: list[str] = field(default_factory=list)
    arrays: list[ConstArray] = field(default_factory=list)
    scratch: ScratchQuery | None = None
    view: bool = False                             # no call: the output is the input's bytes (reshape)
    inplace_input: int | None = None               # input position whose bytes the output may reuse


Emitter = Callable[[ModelIR, Layer, str], LayerCode]
_EMITTERS: dict[str, Emitter] = {}


def emitter(*kinds: str):
    def register(fn: Emitter) -> Emitter:
        for kind in kinds:
            _EMITTERS[kind] = fn
        return fn
    return register


def emit_layer(ir: ModelIR, layer: Layer, prefix: str) -> LayerCode:
    """C for one layer; `prefix` names its constant arrays. Unsupported configurations fail naming the layer."""
    fn = _EMITTERS.get(layer.kind)
    if fn is None:
        raise FlynetError(
            f"layer {layer_label(ir, layer)}: {layer.kind} is only supported inside a fused pattern "
            "(MDW Max-out or the ECA chain), and this one does not match it: re-export the model"
        )
    try:
        return fn(ir, layer, prefix)
    except ValueError as exc:  # quant_params refuses parameters TFLM refuses too
        raise FlynetError(f"layer {layer_label(ir, layer)}: {exc}") from exc


def unsupported(ir: ModelIR, layer: Layer, what: str) -> FlynetError:
    return FlynetError(f"layer {layer_label(ir, layer)}: {what} is not supported by the kernels")


# -- formatting helpers -----------------------------------------------------------------------

def c_dims(d: tuple[int, int, int, int]) -> str:
    return "{%d, %d, %d, %d}" % d


def c_struct(values: dict[str, object]) -> str:
    return "{" + ", ".join(f".{k} = {_c_value(v)}" for k, v in values.items()) + "}"


def _c_value(v: object) -> str:
    if isinstance(v, str):
        return v
    return str(int(v))  # type: ignore[arg-type]


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(s) for s in shape) + "]"


def _act_range(ir: ModelIR, layer: Layer, out_index: int) -> tuple[int, int]:
    out = ir.tensor(out_index)
    activation = layer.options.get("fused_activation_function", "NONE")
    if activation not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise unsupported(ir, layer, f"fused activation {activation}")
    return qp.activation_range(activation, float(out.scale[0]), int(out.zero_point[0]))


def _per_channel_quant(ir: ModelIR, layer: Layer, channels: int, weights_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiplier and shift per output channel: input_scale * weight_scale[c] / output_scale."""
    x = ir.tensor(layer.inputs[0])
    w = ir.tensor(layer.op.inputs[weights_index])
    out = ir.tensor(layer.op.outputs[0])
    if w.zero_point is not None and np.any(w.zero_point != 0):
        raise unsupported(ir, layer, "weights with a non-zero zero point")
    scales = np.broadcast_to(np.asarray(w.scale, dtype=np.float32), (channels,))
    return qp.conv_channel_quant(float(x.scale[0]), scales, float(out.scale[0]))


def _bias_array(ir: ModelIR, layer: Layer, prefix: str, position: int) -> tuple[str, list[ConstArray]]:
    bias = ir.constant(layer, position)
    if bias is None:
        return "NULL", []
    if bias.dtype != np.int32:
        raise unsupported(ir, layer, f"a {bias.dtype} bias (int8 models carry int32 biases)")
    return f"{prefix}_bias", [ConstArray(f"{prefix}_bias", "int32_t", bias.reshape(-1))]


def _status_call(call: str) -> list[str]:
    return [f"status = {call};"]


# -- convolutions -----------------------------------------------------------------------------

def _conv_common(ir: ModelIR, layer: Layer, prefix: str, kind: str,
                 pads: tuple[int, int, int, int] | None = None) -> LayerCode:
    """One conv-like kernel call; `pads` (top, bottom, left, right) folds a preceding PAD into a VALID conv."""
    op = layer.op
    x = ir.tensor(layer.inputs[0])
    out = ir.tensor(layer.outputs[0])
    weights = ir.constant(layer, 1)
    opts = op.options
    if int(opts.get("dilation_h_factor", 1)) != 1 or int(opts.get("dilation_w_factor", 1)) != 1:
        raise unsupported(ir, layer, "dilation other than 1")
    if opts.get("padding") not in ("SAME", "VALID"):
        raise unsupported(ir, layer, f"padding {opts.get('padding')}")
    heads = int(opts.get("depth_multiplier", 1)) if kind != "conv" else 1
    if kind == "conv":
        function = "fn_conv2d_s8"
        filter_dims = tuple(int(s) for s in weights.shape)
        channels = filter_dims[0]
    else:
        function = "fn_depthwise_conv2d_s8" if kind == "depthwise" else "fn_mdw_maxout_s8"
        filter_dims = tuple(int(s) for s in weights.shape)
        channels = filter_dims[3]
        if channels != x.shape[3] * heads:
            raise unsupported(ir, layer, f"a depthwise filter of {channels} channels for {x.shape[3]} x {heads} heads")
    # Requantization of each of the (C*h) depthwise responses uses the depthwise output's scale.
    multipliers, shifts = _per_channel_quant(ir, layer, channels, 1)
    bias_name, arrays = _bias_array(ir, layer, prefix, 2)
    act_min, act_max = _act_range(ir, layer, op.outputs[0])
    arrays = [
        ConstArray(f"{prefix}_weights", "int8_t", weights.reshape(-1)),
        *arrays,
        ConstArray(f"{prefix}_multiplier", "int32_t", multipliers),
        ConstArray(f"{prefix}_shift", "int32_t", shifts),
    ]
    params = {
        "stride_h": int(opts.get("stride_h", 1)), "stride_w": int(opts.get("stride_w", 1)),
        "dilation_h": 1, "dilation_w": 1,
        "padding": "FN_PADDING_SAME" if opts["padding"] == "SAME" else "FN_PADDING_VALID",
        "input_offset": -int(x.zero_point[0]),
        "output_offset": int(ir.tensor(op.outputs[0]).zero_point[0]),
        "act_min": act_min, "act_max": act_max,
        "depth_multiplier": heads,
    }
    if pads is not None:
        params["padding"] = "FN_PADDING_EXPLICIT"
        params.update(zip(("pad_top", "pad_bottom", "pad_left", "pad_right"), pads))
    if params["stride_h"] not in (1, 2) or params["stride_w"] not in (1, 2):
        raise unsupported(ir, layer, f"stride {params['stride_h']}x{params['stride_w']}")
    in_dims, out_dims = dims4(x.shape), dims4(out.shape)
    statements = [
        f"static const fn_conv_params params = {c_struct(params)};",
        f"static const fn_channel_quant quant = {{{prefix}_multiplier, {prefix}_shift}};",
        f"static const fn_dims in_dims = {c_dims(in_dims)}, filter_dims = {c_dims(filter_dims)}, "
        f"out_dims = {c_dims(out_dims)};",
        *_status_call(f"{function}(&params, &quant, &in_dims, @IN0@, &filter_dims, {prefix}_weights, "
                      f"{bias_name}, &out_dims, @OUT0@, @SCRATCH@)"),
    ]
    kh, kw = (filter_dims[1], filter_dims[2])
    padding_text = opts["padding"] if pads is None else f"padded {list(pads[:2])}x{list(pads[2:])} (PAD fused)"
    summary = (f"{shape_text(x.shape)} -> {shape_text(out.shape)}, {kh}x{kw} stride {params['stride_h']} "
               f"{padding_text}" + (f", heads {heads}" if heads > 1 else "")
               + (f", {opts.get('fused_activation_function')}" if opts.get("fused_activation_function", "NONE") != "NONE" else ""))
    return LayerCode(summary, statements, arrays,
                     ScratchQuery(f"{function}_get_buffer_size", (in_dims, filter_dims), "&in_dims, &filter_dims"))


@emitter("CONV_2D")
def _conv(ir, layer, prefix):
    return _conv_common(ir, layer, prefix, "conv")


@emitter("DEPTHWISE_CONV_2D")
def _depthwise(ir, layer, prefix):
    return _conv_common(ir, layer, prefix, "depthwise")


@emitter("MDW_MAXOUT")
def _mdw_maxout(ir, layer, prefix):
    return _conv_common(ir, layer, prefix, "mdw")


@emitter("PADDED_CONV_2D", "PADDED_DEPTHWISE_CONV_2D", "PADDED_MDW_MAXOUT")
def _padded_conv(ir, layer, prefix):
    """PAD + VALID conv as one call with the kernel's explicit padding: the padded taps hold the input
    zero point, which adds 0 to every accumulator, so the kernel skips them and the padded map never exists."""
    pad_op, conv_ops = layer.ops[0], layer.ops[1:]
    kind = {"PADDED_CONV_2D": "conv", "PADDED_DEPTHWISE_CONV_2D": "depthwise", "PADDED_MDW_MAXOUT": "mdw"}[layer.kind]
    inner = Layer(layer.kind.removeprefix("PADDED_"), conv_ops, list(layer.inputs), list(layer.outputs))
    (top, bottom), (left, right) = ir.constant(layer, 1, pad_op).reshape(-1, 2)[1:3].tolist()
    return _conv_common(ir, inner, prefix, kind, pads=(int(top), int(bottom), int(left), int(right)))


@emitter("FULLY_CONNECTED")
def _fully_connected(ir, layer, prefix):
    op = layer.op
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    weights = ir.constant(layer, 1)
    out_features, in_features = (int(s) for s in weights.shape)
    batches = int(np.prod(x.shape)) // in_features
    per_channel = ir.tensor(op.inputs[1]).per_channel
    multipliers, shifts = _per_channel_quant(ir, layer, out_features if per_channel else 1, 1)
    bias_name, bias_arrays = _bias_array(ir, layer, prefix, 2)
    act_min, act_max = _act_range(ir, layer, op.outputs[0])
    params = {
        "input_offset": -int(x.zero_point[0]), "filter_offset": 0, "output_offset": int(out.zero_point[0]),
        "act_min": act_min, "act_max": act_max, "per_channel": int(per_channel),
    }
    arrays = [ConstArray(f"{prefix}_weights", "int8_t", weights.reshape(-1)), *bias_arrays,
              ConstArray(f"{prefix}_multiplier", "int32_t", multipliers),
              ConstArray(f"{prefix}_shift", "int32_t", shifts)]
    statements = [
        f"static const fn_fc_params params = {c_struct(params)};",
        f"static const fn_channel_quant quant = {{{prefix}_multiplier, {prefix}_shift}};",
        *_status_call(f"fn_fully_connected_s8(&params, &quant, {batches}, {in_features}, @IN0@, {out_features}, "
                      f"{prefix}_weights, {bias_name}, @OUT0@)"),
    ]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, {in_features} -> {out_features} features",
                     statements, arrays)


# -- elementwise ------------------------------------------------------------------------------

def _binary_layer(ir: ModelIR, layer: Layer, prefix: str, function: str, params_type: str | None,
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
    statements = []
    args = ""
    if params_type is not None:
        statements.append(f"static const {params_type} params = {c_struct(params)};")
        args = "&params, "
    statements += [
        f"static const fn_dims in1_dims = {c_dims(dims[0])}, in2_dims = {c_dims(dims[1])}, out_dims = {c_dims(do)};",
        *_status_call(f"{function}({args}&in1_dims, {operands[0]}, &in2_dims, {operands[1]}, &out_dims, @OUT0@)"),
    ]
    # Elementwise kernels read element i before writing element i, so an activation operand with
    # the output's exact shape may be overwritten (unless both operands are the same buffer).
    inplace = None
    if op.inputs[0] != op.inputs[1]:
        for position, t in enumerate(op.inputs[:2]):
            if ir.tensor(t).data is None and dims[position] == do:
                inplace = layer.inputs.index(t)
                break
    return LayerCode(f"{shape_text(a.shape)} , {shape_text(b.shape)} -> {shape_text(out.shape)}", statements, arrays,
                     inplace_input=inplace)


def _scale(ir: ModelIR, index: int) -> tuple[float, int]:
    t = ir.tensor(index)
    return float(t.scale[0]), int(t.zero_point[0])


_ARITHMETIC = {"ADD": (qp.add_params, "fn_add_s8", "fn_add_params"),
               "MUL": (qp.mul_params, "fn_mul_s8", "fn_mul_params")}


@emitter("ADD", "MUL")
def _arithmetic(ir, layer, prefix):
    op = layer.op
    make_params, function, params_type = _ARITHMETIC[layer.kind]
    params = make_params(*_scale(ir, op.inputs[0]), *_scale(ir, op.inputs[1]), *_scale(ir, op.outputs[0]))
    params["act_min"], params["act_max"] = _act_range(ir, layer, op.outputs[0])
    return _binary_layer(ir, layer, prefix, function, params_type, params)


@emitter("MAXIMUM")
def _maximum(ir, layer, prefix):
    return _binary_layer(ir, layer, prefix, "fn_maximum_s8", None, None)


def _table_layer(ir: ModelIR, layer: Layer, prefix: str, values: np.ndarray) -> LayerCode:
    """A function of one int8 value as fn_lut_s8 over a table in flash: `values` is the fixed-point
    kernel's output on every input value (host build, bit-exact), so the firmware gets the same bytes
    from one load per value and never links the fixed-point code. The constant ends stay out of the
    table (the kernel clamps the input to lo..hi)."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    size = int(np.prod(x.shape))
    lo, hi, table = trimmed_table(values)
    array = ConstArray(f"{prefix}_table", "int8_t", table)
    statements = _status_call(f"fn_lut_s8({array.name}, {lo}, {hi}, {size}, @IN0@, @OUT0@)")
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, a table of inputs {lo}..{hi}",
                     statements, [array], inplace_input=0)


@emitter("HARD_SWISH")
def _hard_swish(ir, layer, prefix):
    params = qp.hard_swish_params(*_scale(ir, layer.inputs[0]), *_scale(ir, layer.outputs[0]))
    return _table_layer(ir, layer, prefix, shared_kernels().hard_swish(table_inputs(), params))


@emitter("LOGISTIC")
def _logistic(ir, layer, prefix):
    out = ir.tensor(layer.outputs[0])
    if not (float(out.scale[0]) == 1.0 / 256 and int(out.zero_point[0]) == -128):
        raise unsupported(ir, layer, "a LOGISTIC output other than scale 1/256, zero point -128")
    params = qp.logistic_params(*_scale(ir, layer.inputs[0]))
    return _table_layer(ir, layer, prefix, shared_kernels().logistic(table_inputs(), params))


@emitter("SOFTMAX")
def _softmax(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if not (float(out.scale[0]) == 1.0 / 256 and int(out.zero_point[0]) == -128):
        raise unsupported(ir, layer, "a SOFTMAX output other than scale 1/256, zero point -128")
    params = qp.softmax_params(float(x.scale[0]), float(layer.options.get("beta", 1.0)))
    depth = int(x.shape[-1])
    rows = int(np.prod(x.shape)) // depth
    statements = [
        f"static const fn_softmax_params params = {c_struct(params)};",
        *_status_call(f"fn_softmax_s8(&params, {rows}, {depth}, @IN0@, @OUT0@)"),
    ]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, beta {layer.options.get('beta', 1.0):g}",
                     statements)


# -- pooling and reductions -------------------------------------------------------------------

@emitter("AVERAGE_POOL_2D", "MAX_POOL_2D")
def _pool(ir, layer, prefix):
    opts = layer.options
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if not same_quantization(x, out):
        raise unsupported(ir, layer, "pooling that changes the quantization")
    act_min, act_max = _act_range(ir, layer, layer.outputs[0])
    params = {
        "stride_h": int(opts["stride_h"]), "stride_w": int(opts["stride_w"]),
        "filter_h": int(opts["filter_height"]), "filter_w": int(opts["filter_width"]),
        "padding": "FN_PADDING_SAME" if opts["padding"] == "SAME" else "FN_PADDING_VALID",
        "act_min": act_min, "act_max": act_max,
    }
    if not (1 <= params["stride_h"] <= 2 and 1 <= params["stride_w"] <= 2):
        raise unsupported(ir, layer, f"pooling stride {params['stride_h']}x{params['stride_w']}")
    function = "fn_avgpool_s8" if layer.kind == "AVERAGE_POOL_2D" else "fn_maxpool_s8"
    statements = [
        f"static const fn_pool_params params = {c_struct(params)};",
        f"static const fn_dims in_dims = {c_dims(dims4(x.shape))}, out_dims = {c_dims(dims4(out.shape))};",
        *_status_call(f"{function}(&params, &in_dims, @IN0@, &out_dims, @OUT0@)"),
    ]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, "
                     f"{params['filter_h']}x{params['filter_w']} stride {params['stride_h']}", statements)


@emitter("MEAN")
def _mean(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    axes = sorted(int(a) % len(x.shape) for a in ir.constant(layer, 1).reshape(-1))
    if len(x.shape) != 4 or axes != [1, 2]:
        raise unsupported(ir, layer, f"MEAN over axes {axes} (only the spatial mean over H and W)")
    params = qp.mean_params(*_scale(ir, layer.inputs[0]), *_scale(ir, layer.outputs[0]))
    statements = [
        f"static const fn_mean_params params = {c_struct(params)};",
        f"static const fn_dims in_dims = {c_dims(dims4(x.shape))};",
        *_status_call("fn_mean_hw_s8(&params, &in_dims, @IN0@, @OUT0@)"),
    ]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, mean over H, W", statements)


# -- data movement ----------------------------------------------------------------------------

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
        *_status_call(f"fn_concat_s8({len(parts)}, parts, axis_sizes, {outer}, {inner}, @OUT0@)"),
    ]
    shapes = " + ".join(shape_text(ir.tensor(t).shape) for t in op.inputs)
    return LayerCode(f"{shapes} -> {shape_text(out.shape)}, axis {axis}", statements, arrays)


def _copy_layer(ir: ModelIR, layer: Layer, offset_name: str, offset: tuple[int, ...], call: str,
                detail: str = "") -> LayerCode:
    """A data-movement kernel whose output is its input placed at (pad) or taken from (slice) an offset."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    statements = [
        f"static const fn_dims in_dims = {c_dims(dims4(x.shape))}, {offset_name} = {c_dims(offset)}, "
        f"out_dims = {c_dims(dims4(out.shape))};",
        *_status_call(call),
    ]
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}{detail}", statements)


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


# -- fused patterns ---------------------------------------------------------------------------

@emitter("MAXOUT")
def _maxout(ir, layer, prefix):
    """Max over each channel's h adjacent heads (fn_maxout_s8)."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    groups = int(np.prod(out.shape))
    heads = int(np.prod(x.shape)) // groups
    statements = _status_call(f"fn_maxout_s8({groups}, {heads}, @IN0@, @OUT0@)")
    # In place is safe: output g is written after its window g*h..g*h+h-1 was read, and every byte
    # it lands on (index g <= g*h) belongs to a window already read.
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, max over {heads} heads", statements,
                     inplace_input=0)


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
    sq_params = qp.squared_difference_params(*_scale(ir, x_index), *_scale(ir, mu), *_scale(ir, sqdiff_op.outputs[0]))
    # (x - mu)^2 is symmetric, so the kernel's fixed order (x first) fits either operand order.
    weights = ir.constant(layer, 1, conv_op)
    bias = ir.constant(layer, 2, conv_op)
    cat = concat_op.outputs[0]
    conv_out = conv_op.outputs[0]
    (conv_m,), (conv_s,) = qp.conv_channel_quant(
        _scale(ir, cat)[0], np.atleast_1d(ir.tensor(conv_op.inputs[1]).scale), _scale(ir, conv_out)[0])
    gate_in = gate_op.inputs[0]
    heads = int(ir.tensor(gate_in).shape[-1])
    logistic = qp.logistic_params(*_scale(ir, gate_in)) if gate_op.opcode == "LOGISTIC" else \
        {"input_zero_point": 0, "input_range_radius": 0, "input_multiplier": 0, "input_left_shift": 0}
    softmax = qp.softmax_params(_scale(ir, gate_in)[0], float(gate_op.options.get("beta", 1.0))) \
        if gate_op.opcode == "SOFTMAX" else {"input_multiplier": 0, "input_left_shift": 0, "diff_min": 0}
    gate_scaled = mul_op.inputs[1] if mul_op.inputs[0] == x_index else mul_op.inputs[0]
    mul = qp.mul_params(*_scale(ir, x_index), *_scale(ir, gate_scaled), *_scale(ir, mul_op.outputs[0]))
    mul["act_min"], mul["act_max"] = qp.activation_range(
        mul_op.options.get("fused_activation_function", "NONE"), *_scale(ir, mul_op.outputs[0]))
    params = {
        "mean": c_struct(qp.mean_params(*_scale(ir, x_index), *_scale(ir, mu))),
        **{f"sqdiff_{k}": v for k, v in sq_params.items()},
        "var_mean": c_struct(qp.mean_params(*_scale(ir, sqdiff_op.outputs[0]), *_scale(ir, var))),
        "kernel_size": int(weights.shape[2]),
        "kernel": f"{prefix}_kernel",
        "conv_bias": int(bias.reshape(-1)[0]) if bias is not None else 0,
        "conv_input_offset": -_scale(ir, cat)[1], "conv_output_offset": _scale(ir, conv_out)[1],
        "conv_multiplier": int(conv_m), "conv_shift": int(conv_s),
        "use_softmax": int(gate_op.opcode == "SOFTMAX"), "heads": heads if gate_op.opcode == "SOFTMAX" else 1,
        "logistic": c_struct(logistic), "softmax": c_struct(softmax), "mul": c_struct(mul),
    }
    dims = dims4(x.shape)
    statements = [
        f"static const fn_eca_params params = {c_struct(params)};",
        f"static const fn_dims dims = {c_dims(dims)};",
        *_status_call("fn_eca_s8(&params, &dims, @IN0@, @OUT0@, @SCRATCH@)"),
    ]
    gate_text = f"softmax over {heads} heads" if gate_op.opcode == "SOFTMAX" else "sigmoid"
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}, mean+variance ECA, "
                     f"k={int(weights.shape[2])}, {gate_text}", statements,
                     [ConstArray(f"{prefix}_kernel", "int8_t", weights.reshape(-1))],
                     ScratchQuery("fn_eca_s8_get_buffer_size", (dims,), "&dims"), inplace_input=0)
