"""Fusion passes over the layer list: runs of TFLite operators that one kernel computes.

- MDW + Max-out: DEPTHWISE_CONV_2D(depth_multiplier=h) whose C*h output only
  feeds the converter's Max-out, either RESHAPE [1,H,W,C,h] + REDUCE_MAX over
  the last axis, or h STRIDED_SLICEs (channel stride h) joined by MAXIMUMs.
  The fused layer writes the C-channel result directly, so the C*h map is
  never planned. Max is exact in int8 only with one scale throughout, so every
  tensor of the pattern must share the depthwise output's quantization.

A pattern that does not match exactly is left alone; its ops then go through
the normal per-op path (where REDUCE_MAX alone fails, naming the layer).
"""

from __future__ import annotations

from .graph import Layer, ModelIR, same_quantization


def fuse(ir: ModelIR) -> ModelIR:
    """Apply every fusion pass, in place, and renumber the layers."""
    fuse_mdw_maxout(ir)
    ir.renumber()
    return ir


def _only_consumer(ir: ModelIR, consumers: dict[int, list[Layer]], tensor: int) -> Layer | None:
    """The one layer reading `tensor`, if exactly one does and the tensor is not a graph output."""
    users = consumers.get(tensor, [])
    if len(users) != 1 or tensor in ir.outputs:
        return None
    return users[0]


def fuse_mdw_maxout(ir: ModelIR) -> None:
    changed = True
    while changed:
        changed = False
        consumers = ir.consumers()
        for layer in ir.layers:
            if layer.kind != "DEPTHWISE_CONV_2D" or int(layer.options.get("depth_multiplier", 1)) < 2:
                continue
            shapes = _pattern_shapes(ir, layer)
            if shapes is None or layer.outputs[0] in ir.outputs:
                continue
            tail = (_match_reshape_reduce_max(ir, consumers, layer, shapes)
                    or _match_slices_maximum(ir, consumers, layer, shapes))
            if tail is None:
                continue
            fused = Layer("MDW_MAXOUT", [layer.op] + [t.op for t in tail], list(layer.inputs), list(tail[-1].outputs))
            dropped = {id(t) for t in tail}
            position = ir.layers.index(layer)
            ir.layers = [l for l in ir.layers if id(l) not in dropped]
            ir.layers[position] = fused
            # Order stays topological: only the tail read the depthwise output, and every reader of the
            # fused output came after the tail.
            changed = True
            break


def _pattern_shapes(ir: ModelIR, layer: Layer) -> tuple[int, int, int, int, int] | None:
    """(N, H, W, C, h) of a depthwise output that is C*h channels wide."""
    out = ir.tensor(layer.outputs[0])
    h = int(layer.options.get("depth_multiplier", 1))
    if len(out.shape) != 4 or out.shape[3] % h:
        return None
    n, height, width, channels = out.shape
    return n, height, width, channels // h, h


def _match_reshape_reduce_max(ir: ModelIR, consumers, layer: Layer, shapes) -> list[Layer] | None:
    n, height, width, channels, heads = shapes
    dw_out = layer.outputs[0]
    reshape = _only_consumer(ir, consumers, dw_out)
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
    tensors = [ir.tensor(t) for t in (dw_out, split, reduce.outputs[0])]
    if not all(same_quantization(tensors[0], t) for t in tensors[1:]):
        return None
    return [reshape, reduce]


def _match_slices_maximum(ir: ModelIR, consumers, layer: Layer, shapes) -> list[Layer] | None:
    n, height, width, channels, heads = shapes
    dw_out = layer.outputs[0]
    slices = consumers.get(dw_out, [])
    if len(slices) != heads or any(s.kind != "STRIDED_SLICE" for s in slices):
        return None
    phases = set()
    for s in slices:
        begin, strides = ir.constant(s, 1), ir.constant(s, 3)
        opts = s.options
        if any(int(opts.get(k, 0)) for k in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask")):
            return None
        if begin is None or strides is None or list(strides.reshape(-1)) != [1, 1, 1, heads]:
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
            if user is not None and user.kind == "MAXIMUM" and all(i in available for i in user.inputs) \
                    and len(set(user.inputs)) == 2:
                step = user
                break
        if step is None:
            return None
        available -= set(step.inputs)
        available.add(step.outputs[0])
        chain.append(step)
    tensors = [ir.tensor(dw_out)] + [ir.tensor(s.outputs[0]) for s in slices] + [ir.tensor(m.outputs[0]) for m in chain]
    if not all(same_quantization(tensors[0], t) for t in tensors[1:]):
        return None
    # Keep the fused ops in graph order so the emitted comment lists them as the model does.
    tail = slices + chain
    return sorted(tail, key=lambda l: l.op.index)
