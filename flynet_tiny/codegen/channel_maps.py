"""Chains of data-movement operators that only reorder channels, found and read as index maps.

MicroNet's channel shuffle (RESHAPE [1, H*W, g, n] -> STRIDED_SLICEs -> CONCATENATION -> RESHAPE)
and Shift-Max's channel shift (SLICE + SLICE + CONCATENATION) move whole channels: every output
pixel holds the same pixel of the input, its channels picked by one map. `trace_channel_map` runs
the operators on the input's element indices instead of its values and returns that map (or None
when the chain does something else), so a kernel can read the input through the map and the moved
copies never exist.
"""

from __future__ import annotations

import numpy as np

from ..tflite import TFLiteOperator
from .graph import Layer, ModelIR, same_quantization

MOVEMENT_KINDS = ("RESHAPE", "STRIDED_SLICE", "SLICE", "CONCATENATION")


def _strided_slice(ir: ModelIR, layer: Layer, op: TFLiteOperator, value: np.ndarray) -> np.ndarray | None:
    opts = op.options
    if any(int(opts.get(k, 0)) for k in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask")):
        return None
    begin, end, strides = (ir.constant(layer, i, op) for i in (1, 2, 3))
    if begin is None or end is None or strides is None:
        return None
    index = []
    for axis in range(value.ndim):
        b = None if int(opts.get("begin_mask", 0)) >> axis & 1 else int(begin.reshape(-1)[axis])
        e = None if int(opts.get("end_mask", 0)) >> axis & 1 else int(end.reshape(-1)[axis])
        index.append(slice(b, e, int(strides.reshape(-1)[axis])))
    return value[tuple(index)]


def _slice(ir: ModelIR, layer: Layer, op: TFLiteOperator, value: np.ndarray) -> np.ndarray | None:
    begin, size = ir.constant(layer, 1, op), ir.constant(layer, 2, op)
    if begin is None or size is None:
        return None
    index = tuple(slice(int(b), None if int(s) < 0 else int(b) + int(s))
                  for b, s in zip(begin.reshape(-1), size.reshape(-1)))
    return value[index]


def trace_channel_map(ir: ModelIR, layers: list[Layer], source: int, result: int) -> np.ndarray | None:
    """The channel map m with result[n, h, w, c] == source[n, h, w, m[c]], if the movement `layers`
    (in execution order) compute `result` from `source` that way; else None."""
    shape, out_shape = ir.tensor(source).shape, ir.tensor(result).shape
    if len(shape) != 4 or len(out_shape) != 4 or shape[:3] != out_shape[:3]:
        return None
    values = {source: np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)}
    for layer in layers:
        for op in layer.ops:
            inputs = [values.get(t) for t in op.inputs if t >= 0 and ir.tensor(t).data is None]
            if any(v is None for v in inputs) or not inputs:
                return None
            out_shape_op = ir.tensor(op.outputs[0]).shape
            if op.opcode == "RESHAPE":
                value = inputs[0].reshape(out_shape_op)
            elif op.opcode == "STRIDED_SLICE":
                value = _strided_slice(ir, layer, op, inputs[0])
            elif op.opcode == "SLICE":
                value = _slice(ir, layer, op, inputs[0])
            elif op.opcode == "CONCATENATION" and op.options.get("fused_activation_function", "NONE") == "NONE":
                value = np.concatenate(inputs, axis=int(op.options.get("axis", 0)) % inputs[0].ndim)
            else:
                return None
            if value is None or value.shape != tuple(out_shape_op):
                return None
            values[op.outputs[0]] = value
    if result not in values:
        return None
    traced = values[result]
    channels = shape[3]
    pixel, channel = traced // channels, traced % channels
    if not np.array_equal(pixel, np.broadcast_to(np.arange(int(np.prod(shape[:3]))).reshape(*shape[:3], 1),
                                                 traced.shape)):
        return None
    if not (channel == channel[:1, :1, :1, :]).all():
        return None
    return channel[0, 0, 0, :].copy()


def movement_chain(ir: ModelIR, consumers: dict[int, list[Layer]], producers: dict[int, Layer],
                   end: int) -> tuple[int, list[Layer]] | None:
    """The data-movement layers that compute tensor `end` from one source tensor, each intermediate read
    only inside the chain, one CONCATENATION at least, one quantization throughout: (source, layers in
    execution order); None where no such chain ends at `end`."""
    chain: dict[int, Layer] = {}
    frontier = [end]
    while frontier:
        t = frontier.pop()
        layer = producers.get(t)
        if layer is None or layer.kind not in MOVEMENT_KINDS or id(layer) in chain:
            continue
        chain[id(layer)] = layer
        frontier.extend(layer.inputs)
    # Grow only through tensors the chain alone reads; what stays outside is the source.
    changed = True
    while changed:
        changed = False
        for key, layer in list(chain.items()):
            if layer.outputs[0] != end and any(id(u) not in chain for u in consumers.get(layer.outputs[0], [])):
                del chain[key]
                changed = True
            elif layer.outputs[0] in ir.outputs:
                del chain[key]
                changed = True
    layers = sorted(chain.values(), key=lambda l: l.op.index)
    inside = {t for l in layers for t in l.outputs}
    sources = {t for l in layers for t in l.inputs if t not in inside}
    if end not in inside or len(sources) != 1 or not any(l.kind == "CONCATENATION" for l in layers):
        return None
    source = next(iter(sources))
    if not all(same_quantization(ir.tensor(source), ir.tensor(t)) for t in inside):
        return None
    return source, layers
