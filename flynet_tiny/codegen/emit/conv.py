"""CONV_2D, DEPTHWISE_CONV_2D and the fused MDW + Max-out, each optionally with a PAD folded in; TRANSPOSE_CONV;
the grouped conv's call (kind "group", with its input channel map) comes from here too (emit/micronet.py)."""

from __future__ import annotations

from ...int8 import kernel_params as qp
from ..graph import Layer, ModelIR, dims4
from ..layer_code import ConstArray, LayerCode, ParamObject, ScratchQuery, dims_object, shape_text
from ..overlap import ChannelBands, Overlap, PixelWindows
from .common import act_range, bias_array, per_channel_quant, status_call
from .fully_connected import pointwise_as_pairs
from .registry import emitter, unsupported

_FUNCTIONS = {"conv": "fn_conv2d_s8", "depthwise": "fn_depthwise_conv2d_s8", "mdw": "fn_mdw_maxout_s8",
              "group": "fn_group_conv2d_s8"}


def _kernel_call(ir: ModelIR, layer: Layer, prefix: str, function: str, weights, channels: int, bias_position: int,
                 params: dict, summary: str, overlap: Overlap | None = None, channel_map=None) -> LayerCode:
    """The call of one conv-like kernel (fn_conv_params, per-channel requantization, weights, optional bias):
    its constant arrays, parameter objects and scratch query; `overlap`: how its output may lie over its input;
    `channel_map`: the grouped conv's input channel order (its extra argument, NULL without one)."""
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    multipliers, shifts = per_channel_quant(ir, layer, channels, 1)
    bias_name, bias = bias_array(ir, layer, prefix, bias_position)
    arrays = [
        ConstArray(f"{prefix}_weights", "int8_t", weights.reshape(-1)),
        *bias,
        ConstArray(f"{prefix}_multiplier", "int32_t", multipliers),
        ConstArray(f"{prefix}_shift", "int32_t", shifts),
    ]
    filter_dims = tuple(int(s) for s in weights.shape)
    in_dims, out_dims = dims4(x.shape), dims4(out.shape)
    objects = [
        ParamObject("params", "fn_conv_params", params),
        ParamObject("quant", "fn_channel_quant", {"multiplier": f"{prefix}_multiplier", "shift": f"{prefix}_shift"}),
        dims_object("in_dims", in_dims), dims_object("filter_dims", filter_dims), dims_object("out_dims", out_dims),
    ]
    map_argument = ""
    if function == "fn_group_conv2d_s8":
        map_argument = "NULL, " if channel_map is None else f"{prefix}_channel_map, "
        if channel_map is not None:
            arrays.append(ConstArray(f"{prefix}_channel_map", "int16_t", channel_map))
    statements = status_call(f"{function}(&params, &quant, &in_dims, @IN0@, {map_argument}&filter_dims, "
                             f"{prefix}_weights, {bias_name}, &out_dims, @OUT0@, @SCRATCH@)")
    activation = layer.options.get("fused_activation_function", "NONE")
    return LayerCode(summary + (f", {activation}" if activation != "NONE" else ""), statements, arrays,
                     ScratchQuery(f"{function}_get_buffer_size", (in_dims, filter_dims), "&in_dims, &filter_dims"),
                     objects=objects, overlap=overlap)


def _conv_overlap(kind: str, params: dict, in_dims, out_dims, kernel: tuple[int, int], heads: int,
                  pads: tuple[int, int, int, int] | None) -> Overlap | None:
    """Every path writes output pixels in raster order behind the windows it reads, except the DSP
    depthwise planes (3x3, 5x5), which go channel group by channel group, and the DSP depthwise line
    planes (k x 1, 1 x k), which go line by line of 4 channels: those get separate buffers."""
    if kind != "conv" and (kernel[0] == 1) != (kernel[1] == 1):
        return None
    stride = (params["stride_h"], params["stride_w"])
    dilation = (params["dilation_h"], params["dilation_w"])
    if pads is None:
        leading = tuple(qp.conv_padding(params["padding"].removeprefix("FN_PADDING_"), size, k, s, d)[1]
                        for size, k, s, d in zip(in_dims[1:3], kernel, stride, dilation))
    else:
        leading = (pads[0], pads[2])
    schedules = [PixelWindows(in_dims, out_dims, kernel, stride, leading, dilation)]
    reason = "output pixels in raster order, each written after its window's top rows were read"
    if kind != "conv" and kernel in ((3, 3), (5, 5)) and dilation == (1, 1):
        schedules.append(ChannelBands(in_dims, out_dims, kernel[0], stride, leading, heads, kind == "mdw"))
        reason += "; DSP planes copy a band's input rows before writing the band"
    return Overlap(0, tuple(schedules), reason)


def _conv_common(ir: ModelIR, layer: Layer, prefix: str, kind: str,
                 pads: tuple[int, int, int, int] | None = None, channel_map=None) -> LayerCode:
    """One conv-like kernel call; `pads` (top, bottom, left, right) folds a preceding PAD into a VALID conv;
    `channel_map` (kind "group" only) is the order in which the grouped conv reads its input channels."""
    op = layer.op
    x = ir.tensor(layer.inputs[0])
    out = ir.tensor(layer.outputs[0])
    weights = ir.constant(layer, 1)
    opts = op.options
    if opts.get("padding") not in ("SAME", "VALID"):
        raise unsupported(ir, layer, f"padding {opts.get('padding')}")
    heads = int(opts.get("depth_multiplier", 1)) if kind not in ("conv", "group") else 1
    filter_dims = tuple(int(s) for s in weights.shape)
    if kind in ("conv", "group"):
        channels = filter_dims[0]
    else:
        channels = filter_dims[3]
        if channels != x.shape[3] * heads:
            raise unsupported(ir, layer, f"a depthwise filter of {channels} channels for {x.shape[3]} x {heads} heads")
    # Requantization of each of the (C*h) depthwise responses uses the depthwise output's scale.
    act_min, act_max = act_range(ir, layer, op.outputs[0])
    params = {
        "stride_h": int(opts.get("stride_h", 1)), "stride_w": int(opts.get("stride_w", 1)),
        "dilation_h": int(opts.get("dilation_h_factor", 1)), "dilation_w": int(opts.get("dilation_w_factor", 1)),
        "padding": "FN_PADDING_SAME" if opts["padding"] == "SAME" else "FN_PADDING_VALID",
        "input_offset": -int(x.zero_point[0]),
        "output_offset": int(out.zero_point[0]),
        "act_min": act_min, "act_max": act_max,
        "depth_multiplier": heads,
    }
    if pads is not None:
        params["padding"] = "FN_PADDING_EXPLICIT"
        params.update(zip(("pad_top", "pad_bottom", "pad_left", "pad_right"), pads))
    if min(params["stride_h"], params["stride_w"], params["dilation_h"], params["dilation_w"]) < 1:
        raise unsupported(ir, layer, f"stride {params['stride_h']}x{params['stride_w']} with dilation "
                                     f"{params['dilation_h']}x{params['dilation_w']}")
    if kind == "group" and (params["stride_h"] not in (1, 2) or params["stride_w"] not in (1, 2)
                            or (params["dilation_h"], params["dilation_w"]) != (1, 1)):
        raise unsupported(ir, layer, f"a grouped conv of stride {params['stride_h']}x{params['stride_w']} with "
                                     f"dilation {params['dilation_h']}x{params['dilation_w']} (1 or 2, undilated)")
    kh, kw = (filter_dims[1], filter_dims[2])
    padding_text = opts["padding"] if pads is None else f"padded {list(pads[:2])}x{list(pads[2:])} (PAD fused)"
    strides = params["stride_h"] if params["stride_h"] == params["stride_w"] else f"{params['stride_h']}x{params['stride_w']}"
    dilation = (params["dilation_h"], params["dilation_w"])
    summary = (f"{shape_text(x.shape)} -> {shape_text(out.shape)}, {kh}x{kw} stride {strides} "
               + (f"dilation {dilation[0]}x{dilation[1]} " if dilation != (1, 1) else "")
               + f"{padding_text}" + (f", heads {heads}" if heads > 1 else ""))
    # The grouped conv reads its input channels through the map: separate buffers.
    overlap = None if kind == "group" else _conv_overlap(kind, params, dims4(x.shape), dims4(out.shape), (kh, kw),
                                                         heads, pads)
    return _kernel_call(ir, layer, prefix, _FUNCTIONS[kind], weights, channels, 2, params, summary, overlap,
                        channel_map)


@emitter("CONV_2D")
def _conv(ir, layer, prefix):
    return pointwise_as_pairs(ir, layer, prefix) or _conv_common(ir, layer, prefix, "conv")


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


TRANSPOSE_CONV_MAX_TAPS = 32  # FN_TCONV_MAX_TAPS in firmware/kernels/transpose_conv/transpose_conv_s8.c


@emitter("TRANSPOSE_CONV")
def _transpose_conv(ir, layer, prefix):
    """TRANSPOSE_CONV (inputs: output_shape, OHWI weights, input, bias). The output size is the output
    tensor's, as in TFLM, which ignores the output_shape operand at run time."""
    op = layer.op
    if layer.inputs != [op.inputs[2]]:
        raise unsupported(ir, layer, "a TRANSPOSE_CONV whose output_shape or weights are computed at run time")
    x, out = ir.tensor(op.inputs[2]), ir.tensor(op.outputs[0])
    weights = ir.constant(layer, 1)
    opts = op.options
    if opts.get("padding") not in ("SAME", "VALID"):
        raise unsupported(ir, layer, f"padding {opts.get('padding')}")
    if max(weights.shape[1], weights.shape[2]) > TRANSPOSE_CONV_MAX_TAPS:
        raise unsupported(ir, layer, f"a {weights.shape[1]}x{weights.shape[2]} transpose-conv filter (at most "
                                     f"{TRANSPOSE_CONV_MAX_TAPS} taps per axis)")
    act_min, act_max = act_range(ir, layer, op.outputs[0])
    params = {
        "stride_h": int(opts.get("stride_h", 1)), "stride_w": int(opts.get("stride_w", 1)),
        "dilation_h": 1, "dilation_w": 1,
        "padding": "FN_PADDING_SAME" if opts["padding"] == "SAME" else "FN_PADDING_VALID",
        "input_offset": -int(x.zero_point[0]), "output_offset": int(out.zero_point[0]),
        "act_min": act_min, "act_max": act_max, "depth_multiplier": 1,
    }
    summary = (f"{shape_text(x.shape)} -> {shape_text(out.shape)}, transpose {weights.shape[1]}x{weights.shape[2]} "
               f"stride {params['stride_h']}x{params['stride_w']} {opts['padding']}")
    return _kernel_call(ir, layer, prefix, "fn_transpose_conv2d_s8", weights, int(weights.shape[0]), 3, params,
                        summary)
