"""Generation-time constant folding: layers whose result is known before the model runs become constants.

Converters compute shapes at run time: Keras's Flatten / Reshape arrive as SHAPE -> STRIDED_SLICE ->
PACK -> RESHAPE, and Conv2DTranspose's output-shape operand as SHAPE -> STRIDED_SLICE -> PACK. Every
shape here is static, so SHAPE of an activation is a constant, and so is any layer whose operands are
all constants and which numpy computes exactly: the result is stored in the tensor (as if the file
held it) and the layer disappears. The RESHAPE then has a constant shape and is a view.

Exactness rules: data movement (reshape, slice, pack, concatenate, gather, transpose) folds on any
dtype when every value operand carries the output's own quantization (or none); arithmetic, casts and
reductions fold only on unquantized integer tensors (shape arithmetic). Quantized arithmetic stays a
kernel call. A layer that writes a graph output is never folded: the caller's buffer needs a writer.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import FlynetError
from ..tflite.schema import NUMPY_DTYPES
from .graph import Layer, ModelIR, layer_label

Operands = list  # one np.ndarray (or None for an omitted operand) per op input


def _strided_slice(op, values: Operands) -> np.ndarray:
    x, begin, end, strides = values
    opts = op.options
    masks = {k: int(opts.get(f"{k}_mask", 0)) for k in ("begin", "end", "ellipsis", "new_axis", "shrink_axis")}
    index = []
    for d, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
        bit = 1 << d
        if masks["ellipsis"] & bit:
            index.append(Ellipsis)
        elif masks["new_axis"] & bit:
            index.append(np.newaxis)
        elif masks["shrink_axis"] & bit:
            index.append(b)
        else:
            if opts.get("offset"):
                e = b + e
            index.append(slice(None if masks["begin"] & bit else b, None if masks["end"] & bit else e, s))
    return np.asarray(x)[tuple(index)]


def _slice(op, values: Operands) -> np.ndarray:
    x, begin, size = values
    index = tuple(slice(b, None if s < 0 else b + s) for b, s in zip(begin.tolist(), size.tolist()))
    return x[index]


def _reduce(fn: Callable) -> Callable:
    def fold(op, values: Operands) -> np.ndarray:
        x, axes = values
        axis = tuple(int(a) % max(x.ndim, 1) for a in np.atleast_1d(axes).tolist())
        return fn(x, axis=axis, keepdims=bool(op.options.get("keep_dims", False)))
    return fold


def _binary(fn: Callable) -> Callable:
    def fold(op, values: Operands) -> np.ndarray | None:
        if op.options.get("fused_activation_function", "NONE") != "NONE":
            return None
        a, b = values[:2]
        return fn(a, b)
    return fold


def _concatenation(op, values: Operands) -> np.ndarray | None:
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        return None
    return np.concatenate(values, axis=int(op.options.get("axis", 0)))


def _gather(op, values: Operands) -> np.ndarray | None:
    if int(op.options.get("batch_dims", 0)) != 0:
        return None
    params, indices = values
    return np.take(params, indices, axis=int(op.options.get("axis", 0)))


def _as_output_shape(op, values: Operands, out_shape) -> np.ndarray:
    return values[0].reshape(out_shape)


# Data movement: exact on any dtype whose quantization the output shares. Value: which operands carry data.
MOVEMENT: dict[str, tuple[Callable, Callable[[int], bool]]] = {
    "RESHAPE": (_as_output_shape, lambda position: position == 0),
    "SQUEEZE": (_as_output_shape, lambda position: position == 0),
    "EXPAND_DIMS": (_as_output_shape, lambda position: position == 0),
    "STRIDED_SLICE": (_strided_slice, lambda position: position == 0),
    "SLICE": (_slice, lambda position: position == 0),
    "PACK": (lambda op, values: np.stack(values, axis=int(op.options.get("axis", 0))), lambda position: True),
    "CONCATENATION": (_concatenation, lambda position: True),
    "GATHER": (_gather, lambda position: position == 0),
    "TRANSPOSE": (lambda op, values: np.transpose(values[0], values[1].tolist()), lambda position: position == 0),
}

# Integer arithmetic on unquantized tensors (shape computations): numpy's int32 wraps like TFLite's.
ARITHMETIC: dict[str, Callable] = {
    "ADD": _binary(np.add),
    "SUB": _binary(np.subtract),
    "MUL": _binary(np.multiply),
    "FLOOR_DIV": _binary(np.floor_divide),
    "FLOOR_MOD": _binary(np.mod),
    "MAXIMUM": _binary(np.maximum),
    "MINIMUM": _binary(np.minimum),
    "REDUCE_PROD": _reduce(np.prod),
    "SUM": _reduce(np.sum),
    "REDUCE_MAX": _reduce(np.max),
    "REDUCE_MIN": _reduce(np.min),
    "CAST": lambda op, values: values[0],
    "RANGE": lambda op, values: np.arange(values[0].item(), values[1].item(), values[2].item()),
    "FILL": lambda op, values: np.full(values[0].tolist(), values[1].item()),
}

FOLDABLE_OPS = ("SHAPE", *MOVEMENT, *ARITHMETIC)


def _quantization(tensor) -> tuple | None:
    if tensor.scale is None:
        return None
    return (tuple(np.asarray(tensor.scale).tolist()), tuple(np.asarray(tensor.zero_point).tolist()))


def _is_static(tensor) -> bool:
    return all(int(d) >= 0 for d in tensor.shape)


def _evaluate(ir: ModelIR, layer: Layer) -> np.ndarray | None:
    """The layer's single output value, or None when it cannot be computed exactly here."""
    op = layer.op
    graph = ir.graph
    if len(op.outputs) != 1 or any(t in ir.outputs for t in op.outputs):
        return None
    out = graph.tensors[op.outputs[0]]
    if op.opcode == "SHAPE":
        source = graph.tensors[op.inputs[0]]
        return np.asarray(source.shape, dtype=np.int64) if _is_static(source) else None
    operands = [graph.tensors[t] if t >= 0 else None for t in op.inputs]
    if any(t is not None and t.data is None for t in operands):
        return None
    values = [t.data if t is not None else None for t in operands]
    if op.opcode in MOVEMENT:
        fold, is_value = MOVEMENT[op.opcode]
        carried = [t for position, t in enumerate(operands) if t is not None and is_value(position)]
        if any(_quantization(t) != _quantization(out) or t.dtype != out.dtype for t in carried):
            return None
        if _quantization(out) is not None and len(_quantization(out)[0]) > 1:
            return None  # per-channel parameters would have to follow the data
        return fold(op, values, out.shape) if fold is _as_output_shape else fold(op, values)
    if op.opcode in ARITHMETIC:
        tensors = [t for t in operands if t is not None] + [out]
        if any(t.scale is not None or not np.issubdtype(NUMPY_DTYPES.get(t.dtype, np.dtype("float32")), np.integer)
               for t in tensors):
            return None
        return ARITHMETIC[op.opcode](op, values)
    return None


def fold_constants(ir: ModelIR) -> ModelIR:
    """Evaluate every layer computable at generation time (in order, so chains fold in one pass), store
    its result in its output tensor and drop it; the remaining layers then read it as a constant."""
    kept = []
    for layer in ir.layers:
        value = _evaluate(ir, layer)
        if value is None:
            kept.append(layer)
            continue
        out = ir.graph.tensors[layer.op.outputs[0]]
        value = np.asarray(value)
        if tuple(value.shape) != tuple(out.shape):
            raise FlynetError(f"layer {layer_label(ir, layer)}: it computes a {list(value.shape)} value where the "
                              f"model declares {list(out.shape)}: re-export the model with static shapes")
        out.data = value.astype(NUMPY_DTYPES[out.dtype])
    for layer in kept:
        layer.inputs = [t for t in layer.inputs if ir.graph.tensors[t].data is None]
    ir.layers = kept
    ir.renumber()
    return ir
