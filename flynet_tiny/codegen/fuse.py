"""Fusion passes over the layer list: runs of TFLite operators that one kernel computes.

- ECA: the converter's mean-and-variance-aware attention chain
  (MEAN, SQUARED_DIFFERENCE, MEAN, views + CONCATENATION of [mean, var],
  the 1-D CONV_2D over channels, LOGISTIC or SOFTMAX over heads, MUL) becomes
  one `fn_eca_s8` call; the squared-difference map and the gate broadcast never
  exist, and the output may overwrite the input.
- MDW + Max-out: DEPTHWISE_CONV_2D(depth_multiplier=h) whose C*h output only
  feeds the Max-out, either RESHAPE [1,H,W,C,h] + REDUCE_MAX over the last
  axis, or h STRIDED_SLICEs (channel stride h) joined by MAXIMUMs. The fused
  layer writes the C-channel result directly: the C*h map is never planned.
- Max-out alone (after an ECA, say): the same two patterns on any tensor become
  one MAXOUT layer (a max over each channel's h adjacent heads).
- PAD + VALID convolution (the converter's form of PyTorch padding that TFLite's
  SAME cannot express): one PADDED_* layer, a kernel call with explicit padding
  (the padded taps are skipped), so the padded map never exists.
- MicroNet (fuse_micronet.py): the fused Shift-Max, grouped convs with the channel shuffle in front
  folded into their input channel map, and other channel-only reorderings as one gather.
Max is exact in int8 only with one scale throughout, so every tensor of a
Max-out pattern must share its input's quantization.

A pattern that does not match exactly is left alone; its ops then go through
the normal per-op path (REDUCE_MAX, STRIDED_SLICE and MAXIMUM have kernels of their own).
"""

from __future__ import annotations

import numpy as np

from .fuse_micronet import fuse_micronet
from .graph import Layer, ModelIR, same_quantization


def fuse(ir: ModelIR, mdw_maxout: bool = True, shift_max: bool = True) -> ModelIR:
    """Apply every fusion pass, in place, and renumber the layers. `mdw_maxout=False` leaves
    MDW as a depthwise writing the C*h map plus a Max-out layer, `shift_max=False` MicroNet's
    Shift-Max as its MUL / ADD / MAXIMUM layers (to measure what fusion saves)."""
    _repeat(ir, _try_eca)
    if mdw_maxout:
        _repeat(ir, _try_mdw_maxout)
    _repeat(ir, _try_maxout)
    _repeat(ir, _try_padded_conv)
    fuse_micronet(ir, _repeat, _ordered, shift_max)
    ir.renumber()
    return ir


def _repeat(ir: ModelIR, attempt) -> None:
    """Run `attempt(ir, consumers, layer)` on each layer until no pattern is left to fuse."""
    changed = True
    while changed:
        changed = False
        consumers = ir.consumers()
        for layer in ir.layers:
            fused = attempt(ir, consumers, layer)
            if fused is not None:
                _replace(ir, fused)
                changed = True
                break


def _replace(ir: ModelIR, fused: Layer) -> None:
    """Put `fused` where the last of its operators ran (all its inputs exist by then, and every
    reader of its outputs comes later) and drop the layers it absorbed."""
    absorbed = {op.index for op in fused.ops}
    position = max(i for i, l in enumerate(ir.layers) if l.op.index in absorbed)
    kept = [l for l in ir.layers[:position] if not any(op.index in absorbed for op in l.ops)]
    rest = [l for l in ir.layers[position + 1:] if not any(op.index in absorbed for op in l.ops)]
    ir.layers = kept + [fused] + rest


def _only_consumer(ir: ModelIR, consumers: dict[int, list[Layer]], tensor: int) -> Layer | None:
    """The one layer reading `tensor`, if exactly one does and the tensor is not a graph output."""
    users = consumers.get(tensor, [])
    if len(users) != 1 or tensor in ir.outputs:
        return None
    return users[0]


def _follow_views(ir: ModelIR, consumers, tensor: int) -> tuple[int, list[Layer]]:
    """Walk a chain of single-use RESHAPEs (views of the same bytes) from `tensor`."""
    views = []
    while True:
        user = _only_consumer(ir, consumers, tensor)
        if user is None or user.kind != "RESHAPE" or not same_quantization(ir.tensor(tensor), ir.tensor(user.outputs[0])):
            return tensor, views
        views.append(user)
        tensor = user.outputs[0]


def _ordered(layers: list[Layer]) -> list:
    return [op for l in sorted(layers, key=lambda l: l.op.index) for op in l.ops]


# -- Max-out -----------------------------------------------------------------------------------

def _try_mdw_maxout(ir: ModelIR, consumers, layer: Layer) -> Layer | None:
    if layer.kind != "DEPTHWISE_CONV_2D" or int(layer.options.get("depth_multiplier", 1)) < 2:
        return None
    tail = _match_maxout(ir, consumers, layer.outputs[0], int(layer.options["depth_multiplier"]))
    if tail is None:
        return None
    return Layer("MDW_MAXOUT", _ordered([layer] + tail), list(layer.inputs), list(tail[-1].outputs))


def _try_maxout(ir: ModelIR, consumers, layer: Layer) -> Layer | None:
    """A Max-out that does not follow a depthwise directly: the RESHAPE or the first slice starts it."""
    if layer.kind == "RESHAPE" and len(ir.tensor(layer.outputs[0]).shape) == 5:
        heads = ir.tensor(layer.outputs[0]).shape[4]
    elif layer.kind == "STRIDED_SLICE" and ir.constant(layer, 3) is not None:
        heads = int(ir.constant(layer, 3).reshape(-1)[-1])
    else:
        return None
    wide = layer.inputs[0]
    if heads < 2 or wide in ir.outputs:
        return None
    tail = _match_maxout(ir, consumers, wide, heads)
    if tail is None:
        return None
    return Layer("MAXOUT", _ordered(tail), [wide], list(tail[-1].outputs))


def _match_maxout(ir: ModelIR, consumers, wide: int, heads: int) -> list[Layer] | None:
    """The layers reducing `wide` [N,H,W,C*h] to [N,H,W,C] by a max over each channel's h heads."""
    shape = ir.tensor(wide).shape
    if len(shape) != 4 or shape[3] % heads or wide in ir.outputs:
        return None
    n, height, width, channels = shape[0], shape[1], shape[2], shape[3] // heads
    return (_match_reshape_reduce_max(ir, consumers, wide, (n, height, width, channels, heads))
            or _match_slices_maximum(ir, consumers, wide, (n, height, width, channels, heads)))


def _match_reshape_reduce_max(ir: ModelIR, consumers, wide: int, shapes) -> list[Layer] | None:
    n, height, width, channels, heads = shapes
    reshape = _only_consumer(ir, consumers, wide)
    if reshape is None or reshape.kind != "RESHAPE":
        return None
    split = reshape.outputs[0]
    if ir.tensor(split).shape != (n, height, width, channels, heads):
        return None
    reduce = _only_consumer(ir, consumers, split)
    if reduce is None or reduce.kind != "REDUCE_MAX":
        return None
    axes = ir.constant(reduce, 1)
    if axes is None or [int(a) % 5 for a in axes.reshape(-1)] != [4]:
        return None
    result = ir.tensor(reduce.outputs[0])
    if result.shape not in ((n, height, width, channels), (n, height, width, channels, 1)):
        return None
    tensors = [ir.tensor(t) for t in (wide, split, reduce.outputs[0])]
    if not all(same_quantization(tensors[0], t) for t in tensors[1:]):
        return None
    return [reshape, reduce]


def _match_slices_maximum(ir: ModelIR, consumers, wide: int, shapes) -> list[Layer] | None:
    n, height, width, channels, heads = shapes
    slices = consumers.get(wide, [])
    if len(slices) != heads or any(s.kind != "STRIDED_SLICE" for s in slices):
        return None
    phases = set()
    for s in slices:
        begin, strides = ir.constant(s, 1), ir.constant(s, 3)
        opts = s.options
        if any(int(opts.get(k, 0)) for k in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask")):
            return None
        if begin is None or strides is None or [int(v) for v in strides.reshape(-1)] != [1, 1, 1, heads]:
            return None
        begin = [int(v) for v in begin.reshape(-1)]
        begin_mask = int(opts.get("begin_mask", 0))
        if any(begin[d] != 0 and not begin_mask & (1 << d) for d in range(3)):
            return None
        if ir.tensor(s.outputs[0]).shape != (n, height, width, channels):
            return None
        phases.add(0 if begin_mask & 8 else begin[3])
    if phases != set(range(heads)):
        return None
    # The MAXIMUMs must combine exactly the slices (and their own results) into one tensor.
    available = {s.outputs[0] for s in slices}
    chain: list[Layer] = []
    while len(available) > 1:
        step = None
        for t in sorted(available):
            user = _only_consumer(ir, consumers, t)
            if user is not None and user.kind == "MAXIMUM" and len(set(user.inputs)) == 2 \
                    and all(i in available for i in user.inputs):
                step = user
                break
        if step is None:
            return None
        available -= set(step.inputs)
        available.add(step.outputs[0])
        chain.append(step)
    tensors = [ir.tensor(wide)] + [ir.tensor(s.outputs[0]) for s in slices] + [ir.tensor(m.outputs[0]) for m in chain]
    if not all(same_quantization(tensors[0], t) for t in tensors[1:]):
        return None
    return sorted(slices, key=lambda l: l.op.index) + chain


# -- ECA ---------------------------------------------------------------------------------------

def _is_spatial_mean(ir: ModelIR, layer: Layer) -> bool:
    if layer.kind != "MEAN" or len(ir.tensor(layer.inputs[0]).shape) != 4:
        return False
    axes = ir.constant(layer, 1)
    return axes is not None and sorted(int(a) % 4 for a in axes.reshape(-1)) == [1, 2] \
        and len(ir.tensor(layer.outputs[0]).shape) == 4


def _try_eca(ir: ModelIR, consumers, mean_layer: Layer) -> Layer | None:
    """Match the ECA chain starting at its first MEAN; every intermediate must stay inside it."""
    if not _is_spatial_mean(ir, mean_layer):
        return None
    x, mu = mean_layer.inputs[0], mean_layer.outputs[0]
    channels = ir.tensor(x).shape[3]
    mu_users = consumers.get(mu, [])
    if len(mu_users) != 2 or mu in ir.outputs:
        return None
    sqdiff = next((l for l in mu_users if l.kind == "SQUARED_DIFFERENCE" and sorted(l.inputs) == sorted([x, mu])), None)
    mu_view_head = next((l for l in mu_users if l.kind == "RESHAPE"), None)
    if sqdiff is None or mu_view_head is None:
        return None
    var_layer = _only_consumer(ir, consumers, sqdiff.outputs[0])
    if var_layer is None or not _is_spatial_mean(ir, var_layer):
        return None
    var = var_layer.outputs[0]
    mu_end, mu_views = _follow_views(ir, {**consumers, mu: [mu_view_head]}, mu)
    var_end, var_views = _follow_views(ir, consumers, var)
    concat = _only_consumer(ir, consumers, mu_end)
    if concat is None or concat.kind != "CONCATENATION" or list(concat.op.inputs) != [mu_end, var_end] \
            or _only_consumer(ir, consumers, var_end) is not concat:
        return None
    cat = ir.tensor(concat.outputs[0])
    axis = int(concat.options.get("axis", 0)) % len(cat.shape)
    # Concatenating size-1 slices where C is the outer extent interleaves (mean[c], var[c]).
    if int(np.prod(cat.shape[:axis])) != channels or int(np.prod(cat.shape[axis + 1:])) != 1 \
            or cat.shape[axis] != 2 or concat.options.get("fused_activation_function", "NONE") != "NONE":
        return None
    if not all(same_quantization(cat, ir.tensor(t)) for t in (mu, var)):
        return None
    conv_in, cat_views = _follow_views(ir, consumers, concat.outputs[0])
    conv = _only_consumer(ir, consumers, conv_in)
    if conv is None or conv.kind != "CONV_2D" or conv.op.inputs[0] != conv_in:
        return None
    weights = ir.constant(conv, 1)
    opts = conv.options
    if ir.tensor(conv_in).shape != (1, 1, channels, 2) or weights is None or weights.shape[:2] != (1, 1) \
            or weights.shape[0] != 1 or weights.shape[3] != 2 or weights.shape[2] % 2 == 0 \
            or opts.get("padding") != "SAME" or int(opts.get("stride_w", 1)) != 1 \
            or int(opts.get("dilation_w_factor", 1)) != 1 or opts.get("fused_activation_function", "NONE") != "NONE":
        return None
    gate_in, conv_views = _follow_views(ir, consumers, conv.outputs[0])
    gate = _only_consumer(ir, consumers, gate_in)
    if gate is None or gate.kind not in ("LOGISTIC", "SOFTMAX"):
        return None
    if gate.kind == "SOFTMAX" and channels % ir.tensor(gate_in).shape[-1]:
        return None
    mul_in, gate_views = _follow_views(ir, consumers, gate.outputs[0])
    mul = _only_consumer(ir, consumers, mul_in)
    if mul is None or mul.kind != "MUL" or sorted(mul.inputs) != sorted([x, mul_in]) \
            or ir.tensor(mul_in).shape[-1] != channels or int(np.prod(ir.tensor(mul_in).shape)) != channels \
            or ir.tensor(mul.outputs[0]).shape != ir.tensor(x).shape:
        return None
    layers = [mean_layer, sqdiff, var_layer, *mu_views, *var_views, concat, *cat_views, conv, *conv_views, gate,
              *gate_views, mul]
    return Layer("ECA", _ordered(layers), [x], list(mul.outputs))


# -- PAD + convolution -------------------------------------------------------------------------

PADDED_KINDS = {"CONV_2D": "PADDED_CONV_2D", "DEPTHWISE_CONV_2D": "PADDED_DEPTHWISE_CONV_2D",
                "MDW_MAXOUT": "PADDED_MDW_MAXOUT"}


def _try_padded_conv(ir: ModelIR, consumers, pad: Layer) -> Layer | None:
    if pad.kind != "PAD" or len(pad.inputs) != 1:
        return None
    x, padded = ir.tensor(pad.inputs[0]), ir.tensor(pad.outputs[0])
    paddings = ir.constant(pad, 1)
    if len(x.shape) != 4 or x.shape[0] != 1 or paddings is None or not same_quantization(x, padded):
        return None
    paddings = paddings.reshape(-1, 2)
    conv = _only_consumer(ir, consumers, pad.outputs[0])
    if conv is None or conv.kind not in PADDED_KINDS or conv.inputs[0] != pad.outputs[0] \
            or conv.options.get("padding") != "VALID":
        return None
    kernel_hw = ir.constant(conv, 1).shape[1:3]
    # Only the spatial axes may be padded, each by less than the kernel (the kernels' explicit
    # padding keeps every window on a real row and column; deeper pads stay a separate PAD).
    if paddings[0].any() or paddings[3].any() or (paddings[1] < 0).any() or (paddings[2] < 0).any() \
            or not (paddings[1] < kernel_hw[0]).all() or not (paddings[2] < kernel_hw[1]).all():
        return None
    return Layer(PADDED_KINDS[conv.kind], _ordered([pad, conv]), [pad.inputs[0]], list(conv.outputs))
