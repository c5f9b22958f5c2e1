"""Fusion passes for MicroNet's operators (run by `fuse.fuse` after the FlyNet passes).

- SHIFT_MAX: dynamic Shift-Max as the converter writes it: the 2K coefficient slices, the channel
  shift of x (SLICE + SLICE + CONCATENATION), per fusion k MUL(x, a_k), MUL(shifted, b_k) and their
  ADD, and for K = 2 the MAXIMUM of the two. One `fn_shift_max_s8` call reads x and the coefficient
  vector; the shifted map and the 3K - 1 intermediate maps never exist, and y may overwrite x.
- GROUP_CONV_2D: a CONV_2D whose filter holds fewer input channels than its input (grouped); a
  channel-only reordering right before it (MicroNet's channel shuffle: RESHAPE, STRIDED_SLICEs,
  CONCATENATION, RESHAPE) joins it as the kernel's input channel map, so the shuffled copy never
  exists.
- CHANNEL_GATHER: any other chain of data-movement ops that only reorders channels of one tensor, as
  one copy through a channel map.
- TABLE_CHAIN: a run of functions of one int8 value (ADD or MUL by a scalar constant, HARD_SWISH,
  LOGISTIC) with at least one scalar ADD / MUL, e.g. the hard-sigmoid's ADD 3 + RELU6 and MUL 1/6
  and Shift-Max's MUL 4: one table lookup per value, the table composed from the ops' host kernels.

The coefficients' MEAN, two FULLY_CONNECTED and offset ADD (a vector) stay ordinary layers: they
work on 2KC values, not on the map.
"""

from __future__ import annotations

import numpy as np

from .channel_maps import MOVEMENT_KINDS, movement_chain, trace_channel_map
from .graph import Layer, ModelIR, same_quantization


def fuse_micronet(ir: ModelIR, repeat, ordered, shift_max: bool = True) -> None:
    """Apply the passes with fuse.py's driver (`repeat`) and op ordering (`ordered`)."""
    if shift_max:
        repeat(ir, lambda ir_, consumers, layer: _try_shift_max(ir_, consumers, layer, ordered))
        repeat(ir, lambda ir_, consumers, layer: _try_table_chain(ir_, consumers, layer, ordered))
    repeat(ir, _try_group_conv)
    repeat(ir, lambda ir_, consumers, layer: _try_channel_gather(ir_, consumers, layer, ordered))


# -- functions of one int8 value -----------------------------------------------------------------

TABLE_KINDS = ("HARD_SWISH", "LOGISTIC")
SCALAR_KINDS = ("ADD", "MUL")


def is_scalar_op(ir: ModelIR, layer: Layer) -> bool:
    """ADD / MUL of one activation and a one-value constant."""
    constants = [t for t in layer.op.inputs if t >= 0 and ir.tensor(t).data is not None]
    return (layer.kind in SCALAR_KINDS and len(layer.ops) == 1 and len(layer.inputs) == 1 and len(constants) == 1
            and ir.tensor(constants[0]).data.size == 1)


def _unary(ir: ModelIR, layer: Layer) -> bool:
    return (layer.kind in TABLE_KINDS and len(layer.ops) == 1) or is_scalar_op(ir, layer)


def _try_table_chain(ir: ModelIR, consumers, layer: Layer, ordered) -> Layer | None:
    """The longest run of functions of one int8 value starting at `layer` (its input is not produced by
    another), as one table when it holds a scalar ADD / MUL."""
    if not _unary(ir, layer):
        return None
    producer = ir.producers().get(layer.inputs[0])
    if producer is not None and _unary(ir, producer) and len(consumers.get(layer.inputs[0], [])) == 1 \
            and layer.inputs[0] not in ir.outputs:
        return None  # not the start of the run
    chain = [layer]
    while True:
        nxt = consumers.get(chain[-1].outputs[0], [])
        if len(nxt) != 1 or chain[-1].outputs[0] in ir.outputs or not _unary(ir, nxt[0]):
            break
        chain.append(nxt[0])
    if not any(is_scalar_op(ir, l) for l in chain) or (len(chain) == 1 and layer.kind == "TABLE_CHAIN"):
        return None
    return Layer("TABLE_CHAIN", ordered(chain), [layer.inputs[0]], list(chain[-1].outputs))


def _filter_depth(ir: ModelIR, layer: Layer) -> int:
    return int(ir.constant(layer, 1).shape[3])


def is_grouped_conv(ir: ModelIR, layer: Layer) -> bool:
    return layer.kind == "CONV_2D" and _filter_depth(ir, layer) < ir.tensor(layer.inputs[0]).shape[3]


def _try_group_conv(ir: ModelIR, consumers, layer: Layer) -> Layer | None:
    if not is_grouped_conv(ir, layer):
        return None
    return Layer("GROUP_CONV_2D", list(layer.ops), list(layer.inputs), list(layer.outputs), attrs={"channel_map": None})


def _chain_end(ir: ModelIR, consumers, layer: Layer) -> bool:
    """A movement layer whose output leaves the movement ops (every reader computes something)."""
    users = consumers.get(layer.outputs[0], [])
    return layer.kind in MOVEMENT_KINDS and bool(users) and all(u.kind not in MOVEMENT_KINDS for u in users)


def _try_channel_gather(ir: ModelIR, consumers, layer: Layer, ordered) -> Layer | None:
    if not _chain_end(ir, consumers, layer):
        return None
    end = layer.outputs[0]
    found = movement_chain(ir, consumers, ir.producers(), end)
    if found is None:
        return None
    source, chain = found
    channel_map = trace_channel_map(ir, chain, source, end)
    if channel_map is None:
        return None
    users = consumers.get(end, [])
    conv = users[0] if len(users) == 1 and end not in ir.outputs else None
    if conv is not None and conv.kind == "GROUP_CONV_2D" and conv.attrs.get("channel_map") is None \
            and conv.inputs[0] == end and len(conv.ops) == 1:
        return Layer("GROUP_CONV_2D", ordered(chain + [conv]), [source], list(conv.outputs),
                     attrs={"channel_map": channel_map})
    return Layer("CHANNEL_GATHER", ordered(chain), [source], [end], attrs={"channel_map": channel_map})


# -- Shift-Max ---------------------------------------------------------------------------------

def _coefficient_slice(ir: ModelIR, consumers, producers, t: int) -> tuple[int, int, Layer] | None:
    """(coefficient vector, offset, slice layer) when `t` is one contiguous channel run of a [1,1,1,N] tensor
    read only by its one consumer."""
    layer = producers.get(t)
    if layer is None or layer.kind not in ("STRIDED_SLICE", "SLICE") or len(consumers.get(t, [])) != 1 \
            or t in ir.outputs:
        return None
    vector = layer.inputs[0]
    shape = ir.tensor(vector).shape
    if len(shape) != 4 or shape[:3] != (1, 1, 1) or not same_quantization(ir.tensor(vector), ir.tensor(t)):
        return None
    channel_map = trace_channel_map(ir, [layer], vector, t)
    if channel_map is None or not np.array_equal(channel_map, channel_map[0] + np.arange(channel_map.size)):
        return None
    return vector, int(channel_map[0]), layer


def _product(ir: ModelIR, consumers, producers, t: int):
    """(map operand, coefficient vector, offset, MUL layer, slice layer, coefficient operand) for a MUL of a
    [1,H,W,C] map by a coefficient slice [1,1,1,C] whose result only feeds one consumer."""
    mul = producers.get(t)
    if mul is None or mul.kind != "MUL" or len(consumers.get(t, [])) != 1 or t in ir.outputs or len(mul.inputs) != 2:
        return None
    for map_t, coef_t in (mul.inputs, mul.inputs[::-1]):
        coefficient = _coefficient_slice(ir, consumers, producers, coef_t)
        shape = ir.tensor(map_t).shape
        if coefficient is not None and len(shape) == 4 and shape[3] == ir.tensor(coef_t).shape[-1] \
                and ir.tensor(t).shape == shape:
            vector, offset, slice_layer = coefficient
            return map_t, vector, offset, mul, slice_layer, coef_t
    return None


def _fusion(ir: ModelIR, consumers, producers, add: Layer) -> dict | None:
    """One fusion v_k = ADD(MUL(x, a_k), MUL(x shifted, b_k)), described for the emitter."""
    if add.kind != "ADD" or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
        return None
    products = [_product(ir, consumers, producers, t) for t in add.inputs]
    if any(p is None for p in products) or products[0][1] != products[1][1]:
        return None
    for direct, shifted in (products, products[::-1]):
        found = movement_chain(ir, consumers, producers, shifted[0])
        if found is None or found[0] != direct[0]:
            continue
        source, chain = found
        channel_map = trace_channel_map(ir, chain, source, shifted[0])
        channels = ir.tensor(source).shape[3]
        if channel_map is None or channel_map.size != channels:
            continue
        shift = int(channel_map[0])
        if not np.array_equal(channel_map, (np.arange(channels) + shift) % channels):
            continue
        return {"x": source, "shifted": shifted[0], "chain": chain, "shift": shift, "vector": direct[1],
                "a_offset": direct[2], "b_offset": shifted[2], "mul_a": direct[3], "mul_b": shifted[3],
                "slices": [direct[4], shifted[4]], "add": add, "a": direct[5], "b": shifted[5]}
    return None


def _same_source(a: dict, b: dict) -> bool:
    return a["x"] == b["x"] and a["vector"] == b["vector"] and a["shifted"] == b["shifted"]


def _try_shift_max(ir: ModelIR, consumers, add: Layer, ordered) -> Layer | None:
    producers = ir.producers()
    first = _fusion(ir, consumers, producers, add)
    if first is None:
        return None
    fusions, output, extra = [first], add.outputs[0], []
    users = consumers.get(add.outputs[0], [])
    if len(users) == 1 and users[0].kind == "MAXIMUM" and add.outputs[0] not in ir.outputs:
        maximum = users[0]
        other = [t for t in maximum.inputs if t != add.outputs[0]]
        second = _fusion(ir, consumers, producers, producers[other[0]]) if len(other) == 1 \
            and other[0] in producers else None
        if second is not None and _same_source(first, second) and len(consumers.get(other[0], [])) == 1:
            fusions = [first, second] if maximum.inputs[0] == add.outputs[0] else [second, first]
            output, extra = maximum.outputs[0], [maximum]
    shifted = first["shifted"]
    if any(u.kind != "MUL" for u in consumers.get(shifted, [])) or len(consumers.get(shifted, [])) != len(fusions):
        return None
    layers = list(first["chain"]) + extra
    for f in fusions:
        layers += [*f["slices"], f["mul_a"], f["mul_b"], f["add"]]
    attrs = {"fusions": [{k: f[k] for k in ("a_offset", "b_offset", "mul_a", "mul_b", "add", "a", "b")}
                         for f in fusions], "shift": first["shift"], "shifted": shifted}
    return Layer("SHIFT_MAX", ordered(layers), [first["x"], first["vector"]], [output], attrs=attrs)
