"""The graph checks of `read_tflite`: a model every stage can trust, or one line saying what is wrong.

After the reader has range-checked every index and buffer, `check_graph` checks the graph itself:
inputs and outputs exist, each tensor has at most one producer, every op reads only tensors that
exist before it runs (graph inputs, constants, variables or earlier ops' outputs), every 8-bit
tensor carries quantization parameters, and for the builtin ops flynet-tiny converts, compiles or
verifies: operand counts, one data type per op, constant operands where TFLite Micro reads them at
prepare time, TFLite's int8 weight and bias scheme, and the shapes the op's own arithmetic implies.
These are held as strictly as TFLite Micro needs them, since it trusts the file (a depthwise
conv's depth multiplier, say, sets its loop bounds); other ops are left to the runtime.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import FlynetError
from .graph import TFLiteGraph, TFLiteOperator, TFLiteTensor

Check = Callable[["_Op"], None]
_CHECKS: dict[str, Check] = {}


def check_graph(graph: TFLiteGraph) -> None:
    """FlynetError naming the first tensor or op that breaks the graph or its shape rules."""
    if not graph.inputs or not graph.outputs:
        raise FlynetError("the model has no graph inputs or outputs: re-export it")
    available = {t.index for t in graph.tensors if t.is_constant or t.is_variable} | set(graph.inputs)
    written: set[int] = set()
    for op in graph.operators:
        label = f"operator {op.index} ({op.opcode})"
        if not op.outputs:
            raise FlynetError(f"{label} has no outputs: re-export the model")
        for t in op.inputs:
            if t >= 0 and t not in available:
                raise FlynetError(f"{label} reads tensor {t} ({graph.tensors[t].name!r}) before any op writes it: "
                                  "the operators are out of order or an index is wrong; re-export the model")
        for t in (*op.inputs, *op.outputs):
            tensor = graph.tensors[t] if t >= 0 else None
            if tensor is not None and tensor.dtype in ("int8", "uint8") and tensor.scale is None:
                raise FlynetError(f"{label} uses {tensor.dtype} tensor {t} ({tensor.name!r}) without quantization "
                                  "parameters, which every 8-bit kernel needs: re-export the model")
        for t in op.outputs:
            tensor = graph.tensors[t]
            if t in written or t in graph.inputs or tensor.is_constant:
                raise FlynetError(f"{label} writes tensor {t} ({tensor.name!r}), which is a graph input, a constant or "
                                  "another op's output: re-export the model")
            written.add(t)
            available.add(t)
        check = _CHECKS.get(op.opcode)
        if check is not None:
            check(_Op(graph, op))
    for t in graph.outputs:
        if t not in available:
            raise FlynetError(f"graph output tensor {t} ({graph.tensors[t].name!r}) is never written: re-export the model")


class _Op:
    """One operator under check, with the helpers the shape rules share."""

    def __init__(self, graph: TFLiteGraph, op: TFLiteOperator):
        self.graph, self.op = graph, op

    def fail(self, what: str) -> FlynetError:
        out = self.graph.tensors[self.op.outputs[0]].name
        return FlynetError(f"operator {self.op.index} ({self.op.opcode}, output {out!r}): {what}; re-export the model")

    def counts(self, inputs: tuple[int, int], outputs: int = 1) -> None:
        low, high = inputs
        given = len(self.op.inputs)
        if not low <= given <= high or len(self.op.outputs) != outputs:
            wanted = f"{low}" if low == high else f"{low} to {high}"
            raise self.fail(f"has {given} inputs and {len(self.op.outputs)} outputs, not {wanted} and {outputs}")
        for position in range(low):
            if self.op.inputs[position] < 0:
                raise self.fail(f"input {position} is required but omitted")

    def input(self, position: int) -> TFLiteTensor | None:
        if position >= len(self.op.inputs) or self.op.inputs[position] < 0:
            return None
        return self.graph.tensors[self.op.inputs[position]]

    def shape(self, position: int) -> tuple[int, ...]:
        return self.graph.tensors[self.op.inputs[position]].shape

    @property
    def out(self) -> tuple[int, ...]:
        return self.graph.tensors[self.op.outputs[0]].shape

    def constant(self, position: int, what: str) -> np.ndarray:
        """An integer constant operand (axes, paddings, begin / size): TFLite Micro reads these when it
        prepares the op, before any value is computed, so they must be constants."""
        tensor = self.input(position)
        if tensor is None or tensor.data is None:
            raise self.fail(f"its {what} is not a constant tensor")
        if tensor.dtype not in ("int32", "int64"):
            raise self.fail(f"its {what} is {tensor.dtype}, not an integer tensor")
        return tensor.data.astype(np.int64)

    def same_types(self, *positions: int) -> None:
        """The data inputs at `positions` and the output share one type (the kernels pick one code path)."""
        dtypes = {self.graph.tensors[self.op.inputs[p]].dtype for p in positions if self.op.inputs[p] >= 0}
        dtypes.add(self.graph.tensors[self.op.outputs[0]].dtype)
        if len(dtypes) > 1:
            raise self.fail(f"its data inputs and output mix the types {', '.join(sorted(dtypes))}")

    def rank(self, shape: tuple[int, ...], ranks: tuple[int, ...], what: str) -> None:
        if len(shape) not in ranks:
            raise self.fail(f"{what} has shape {list(shape)}, not of rank {' or '.join(map(str, ranks))}")

    def option(self, key: str, low: int = 1) -> int:
        value = self.op.options.get(key)
        if not isinstance(value, (int, np.integer)) or value < low:
            raise self.fail(f"option {key} is {value!r}, not an integer >= {low}")
        return int(value)

    def expect(self, shape: tuple[int, ...] | list[int]) -> None:
        if tuple(int(s) for s in shape) != tuple(self.out):
            raise self.fail(f"output shape {list(self.out)} is not the {list(shape)} its inputs give")


def check(*opcodes: str):
    def register(fn: Check) -> Check:
        for opcode in opcodes:
            _CHECKS[opcode] = fn
        return fn
    return register


def _window_out(op: _Op, size: int, window: int, stride: int, dilation: int = 1) -> int:
    """TFLite's output size of a convolution or pooling window along one axis."""
    effective = (window - 1) * dilation + 1
    padding = op.op.options.get("padding")
    if padding == "SAME":
        return math.ceil(size / stride)
    if padding == "VALID":
        if effective > size:
            raise op.fail(f"a window of {effective} does not fit the input's {size} (padding VALID)")
        return math.ceil((size - effective + 1) / stride)
    raise op.fail(f"padding {padding!r} is neither SAME nor VALID")


def _weights_and_bias(op: _Op, channels: int, axis: int) -> None:
    """TFLite's 8-bit scheme for the weighted ops: int8 weights, symmetric (every zero point 0), one scale or one
    per output channel along `axis`; an int32 bias (int64 for int16 data) of one value per channel."""
    x, weights, bias = op.input(0), op.input(1), op.input(2)
    if x.dtype not in ("int8", "int16"):
        return  # float models: the runtime's own checks
    if weights.dtype != "int8":
        raise op.fail(f"its weights {weights.name!r} are {weights.dtype}, not int8")
    if weights.scale is None or np.any(weights.zero_point != 0):
        raise op.fail(f"its int8 weights {weights.name!r} are not symmetric int8 (a scale, every zero point 0)")
    if weights.scale.size not in (1, channels) or (weights.scale.size > 1 and weights.quantized_dimension != axis):
        raise op.fail(f"its weights carry {weights.scale.size} scales along dimension {weights.quantized_dimension}, "
                      f"not 1 or {channels} along dimension {axis}")
    if bias is not None:
        wanted = "int32" if x.dtype == "int8" else "int64"
        if bias.dtype != wanted or bias.shape != (channels,):
            raise op.fail(f"the bias is {bias.dtype} {list(bias.shape)}, not {wanted} [{channels}]")


@check("CONV_2D", "DEPTHWISE_CONV_2D")
def _conv(op: _Op) -> None:
    op.counts((2, 3))
    x, w = op.shape(0), op.shape(1)
    op.rank(x, (4,), "the input")
    op.rank(w, (4,), "the filter")
    op.rank(op.out, (4,), "the output")
    op.same_types(0)
    stride_h, stride_w = op.option("stride_h"), op.option("stride_w")
    dilation_h, dilation_w = op.option("dilation_h_factor"), op.option("dilation_w_factor")
    if op.op.opcode == "CONV_2D":
        channels = w[0]
        if x[3] % w[3]:
            raise op.fail(f"the filter takes {w[3]} input channels, which do not divide the input's {x[3]}")
    else:
        channels = w[3]
        multiplier = op.option("depth_multiplier")  # TFLite Micro's loops run on it
        if w[0] != 1 or channels != x[3] * multiplier:
            raise op.fail(f"a depthwise filter {list(w)} with depth multiplier {multiplier} does not fit an input of "
                          f"{x[3]} channels")
    _weights_and_bias(op, channels, 0 if op.op.opcode == "CONV_2D" else 3)
    op.expect((x[0], _window_out(op, x[1], w[1], stride_h, dilation_h), _window_out(op, x[2], w[2], stride_w, dilation_w),
               channels))


@check("AVERAGE_POOL_2D", "MAX_POOL_2D")
def _pool(op: _Op) -> None:
    op.counts((1, 1))
    op.same_types(0)
    x = op.shape(0)
    op.rank(x, (4,), "the input")
    filter_h, filter_w = op.option("filter_height"), op.option("filter_width")
    op.expect((x[0], _window_out(op, x[1], filter_h, op.option("stride_h")),
               _window_out(op, x[2], filter_w, op.option("stride_w")), x[3]))


@check("FULLY_CONNECTED")
def _fully_connected(op: _Op) -> None:
    op.counts((2, 3))
    op.same_types(0)
    x, w = op.shape(0), op.shape(1)
    op.rank(w, (2,), "the weights")
    units, features = w
    elements = math.prod(x)
    if elements % features:
        raise op.fail(f"an input of {elements} values is not a whole number of rows of {features}")
    if op.op.options.get("weights_format", 0) != 0:
        raise op.fail("its weights are in a shuffled format, which TFLite Micro does not read")
    _weights_and_bias(op, units, 0)
    if not op.out or op.out[-1] != units or math.prod(op.out) != elements // features * units:
        raise op.fail(f"output shape {list(op.out)} is not {elements // features} rows of {units}")


@check("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")
def _binary(op: _Op) -> None:
    op.counts((2, 2))
    op.same_types(0, 1)
    try:
        shape = np.broadcast_shapes(op.shape(0), op.shape(1))
    except ValueError:
        raise op.fail(f"inputs {list(op.shape(0))} and {list(op.shape(1))} do not broadcast") from None
    op.expect(shape)


@check("HARD_SWISH", "LOGISTIC", "TANH", "RELU", "RELU6", "SOFTMAX", "QUANTIZE", "DEQUANTIZE")
def _elementwise(op: _Op) -> None:
    op.counts((1, 1))
    if op.op.opcode not in ("QUANTIZE", "DEQUANTIZE"):
        op.same_types(0)
    beta = op.op.options.get("beta", 1.0)
    if op.op.opcode == "SOFTMAX" and not (isinstance(beta, float) and 0 < beta < math.inf):
        raise op.fail(f"beta {beta!r} is not a positive number")
    op.expect(op.shape(0))


@check("RESHAPE")
def _reshape(op: _Op) -> None:
    op.counts((1, 2))
    op.same_types(0)
    if math.prod(op.shape(0)) != math.prod(op.out):
        raise op.fail(f"reshapes {list(op.shape(0))} into {list(op.out)}, a different number of values")


@check("MEAN", "SUM", "REDUCE_MAX")
def _reduce(op: _Op) -> None:
    op.counts((2, 2))
    op.same_types(0)
    x = op.shape(0)
    axes = op.constant(1, "axes")
    if np.any(axes < -len(x)) or np.any(axes >= len(x)):
        raise op.fail(f"axes {axes.tolist()} are outside an input of rank {len(x)}")
    reduced = {int(a) % len(x) for a in axes.reshape(-1)}
    keep = bool(op.op.options.get("keep_dims", False))
    op.expect([1 if i in reduced else s for i, s in enumerate(x) if keep or i not in reduced])


@check("CONCATENATION")
def _concatenation(op: _Op) -> None:
    op.counts((1, len(op.op.inputs) or 1))
    op.same_types(*range(len(op.op.inputs)))
    shapes = [op.shape(i) for i in range(len(op.op.inputs))]
    rank = len(op.out)
    axis = op.op.options.get("axis", 0)
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise op.fail(f"axis {axis!r} is outside rank {rank}")
    axis = int(axis) % rank
    for shape in shapes:
        if len(shape) != rank or any(a != b for i, (a, b) in enumerate(zip(shape, op.out)) if i != axis):
            raise op.fail(f"input shape {list(shape)} does not fit the output {list(op.out)} along axis {axis}")
    op.expect([sum(s[axis] for s in shapes) if i == axis else d for i, d in enumerate(op.out)])


@check("PAD", "PADV2")
def _pad(op: _Op) -> None:
    op.counts((2, 3))
    op.same_types(0)
    x = op.shape(0)
    paddings = op.constant(1, "paddings")
    if paddings.shape != (len(x), 2) or np.any(paddings < 0):
        raise op.fail(f"paddings {paddings.tolist()} are not {len(x)} non-negative (before, after) pairs")
    op.expect([s + int(a) + int(b) for s, (a, b) in zip(x, paddings)])


@check("SLICE")
def _slice(op: _Op) -> None:
    op.counts((3, 3))
    op.same_types(0)
    x = op.shape(0)
    begin, size = op.constant(1, "begin"), op.constant(2, "size")
    if begin.shape != (len(x),) or size.shape != (len(x),):
        raise op.fail(f"begin {begin.tolist()} and size {size.tolist()} do not have {len(x)} entries")
    sizes = [d - int(b) if s == -1 else int(s) for d, b, s in zip(x, begin, size)]
    if any(b < 0 or s < 1 or b + s > d for d, b, s in zip(x, begin.tolist(), sizes)):
        raise op.fail(f"begin {begin.tolist()} and size {size.tolist()} reach outside the input {list(x)}")
    op.expect(sizes)


@check("STRIDED_SLICE")
def _strided_slice(op: _Op) -> None:
    op.counts((4, 4))
    op.same_types(0)
    x = op.shape(0)
    begin, end, strides = op.constant(1, "begin"), op.constant(2, "end"), op.constant(3, "strides")
    options = op.op.options
    if options.get("ellipsis_mask") or options.get("new_axis_mask") or options.get("offset"):
        raise op.fail("it uses an ellipsis or new-axis mask or offset, which TFLite Micro does not support")
    if not begin.shape == end.shape == strides.shape == (len(x),) or np.any(strides == 0):
        raise op.fail("begin, end and strides need one entry per input dimension and no zero stride")
    begin_mask, end_mask = int(options.get("begin_mask", 0)), int(options.get("end_mask", 0))
    shrink = int(options.get("shrink_axis_mask", 0))
    shape = []
    for i, (d, b, e, s) in enumerate(zip(x, begin.tolist(), end.tolist(), strides.tolist())):
        if shrink >> i & 1:
            if not -d <= b < d:
                raise op.fail(f"index {b} is outside dimension {i} of size {d}")
            continue
        length = len(range(d)[slice(None if begin_mask >> i & 1 else b, None if end_mask >> i & 1 else e, s)])
        if length < 1:
            raise op.fail(f"dimension {i} of the input {list(x)} is sliced to nothing")
        shape.append(length)
    op.expect(shape)


@check("TRANSPOSE")
def _transpose(op: _Op) -> None:
    op.counts((2, 2))
    op.same_types(0)
    x = op.shape(0)
    perm = op.constant(1, "permutation")
    if sorted(perm.tolist()) != list(range(len(x))):
        raise op.fail(f"permutation {perm.tolist()} does not reorder {len(x)} dimensions")
    op.expect([x[p] for p in perm])
