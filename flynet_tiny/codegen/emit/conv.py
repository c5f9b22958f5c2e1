"""CONV_2D, DEPTHWISE_CONV_2D and the fused MDW + Max-out, each optionally with a PAD folded in; the grouped
conv's call (kind "group", with its input channel map) comes from here too (emit/micronet.py)."""

from __future__ import annotations

from ..graph import Layer, ModelIR, dims4
from ..layer_code import ConstArray, LayerCode, ParamObject, ScratchQuery, dims_object, shape_text
from .common import act_range, bias_array, per_channel_quant, status_call
from .registry import emitter, unsupported

_FUNCTIONS = {"conv": "fn_conv2d_s8", "depthwise": "fn_depthwise_conv2d_s8", "mdw": "fn_mdw_maxout_s8",
              "group": "fn_group_conv2d_s8"}


def _conv_common(ir: ModelIR, layer: Layer, prefix: str, kind: str,
                 pads: tuple[int, int, int, int] | None = None, channel_map=None) -> LayerCode:
    """One conv-like kernel call; `pads` (top, bottom, left, right) folds a preceding PAD into a VALID conv;
    `channel_map` (kind "group" only) is the order in which the grouped conv reads its input channels."""
    op = layer.op
    x = ir.tensor(layer.inputs[0])
    out = ir.tensor(layer.outputs[0])
    weights = ir.constant(layer, 1)
    opts = op.options
    if int(opts.get("dilation_h_factor", 1)) != 1 or int(opts.get("dilation_w_factor", 1)) != 1:
        raise unsupported(ir, layer, "dilation other than 1")
    if opts.get("padding") not in ("SAME", "VALID"):
        raise unsupported(ir, layer, f"padding {opts.get('padding')}")
    heads = int(opts.get("depth_multiplier", 1)) if kind not in ("conv", "group") else 1
    function = _FUNCTIONS[kind]
    filter_dims = tuple(int(s) for s in weights.shape)
    if kind in ("conv", "group"):
        channels = filter_dims[0]
    else:
        channels = filter_dims[3]
        if channels != x.shape[3] * heads:
            raise unsupported(ir, layer, f"a depthwise filter of {channels} channels for {x.shape[3]} x {heads} heads")
    # Requantization of each of the (C*h) depthwise responses uses the depthwise output's scale.
    multipliers, shifts = per_channel_quant(ir, layer, channels, 1)
    bias_name, arrays = bias_array(ir, layer, prefix, 2)
    act_min, act_max = act_range(ir, layer, op.outputs[0])
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
    objects = [
        ParamObject("params", "fn_conv_params", params),
        ParamObject("quant", "fn_channel_quant", {"multiplier": f"{prefix}_multiplier", "shift": f"{prefix}_shift"}),
        dims_object("in_dims", in_dims), dims_object("filter_dims", filter_dims), dims_object("out_dims", out_dims),
    ]
    map_argument = ""
    if kind == "group":
        map_argument = "NULL, " if channel_map is None else f"{prefix}_channel_map, "
        if channel_map is not None:
            arrays.append(ConstArray(f"{prefix}_channel_map", "int16_t", channel_map))
    statements = status_call(f"{function}(&params, &quant, &in_dims, @IN0@, {map_argument}&filter_dims, "
                             f"{prefix}_weights, {bias_name}, &out_dims, @OUT0@, @SCRATCH@)")
    kh, kw = (filter_dims[1], filter_dims[2])
    padding_text = opts["padding"] if pads is None else f"padded {list(pads[:2])}x{list(pads[2:])} (PAD fused)"
    summary = (f"{shape_text(x.shape)} -> {shape_text(out.shape)}, {kh}x{kw} stride {params['stride_h']} "
               f"{padding_text}" + (f", heads {heads}" if heads > 1 else "")
               + (f", {opts.get('fused_activation_function')}" if opts.get("fused_activation_function", "NONE") != "NONE" else ""))
    return LayerCode(summary, statements, arrays,
                     ScratchQuery(f"{function}_get_buffer_size", (in_dims, filter_dims), "&in_dims, &filter_dims"),
                     objects=objects)


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
