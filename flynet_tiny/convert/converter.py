"""The converter's state while it lowers one QDQ graph: the TFLite tensors made so far, each
ONNX value's layout (the axis permutation from its ONNX shape to its TFLite shape) and its
quantization. `op_lowering` holds the per-op rules that drive it; `to_tflite` runs them in order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import FlynetError
from ..tflite import TFLiteBuilder
from .onnx_graph import QParams, QuantizedGraph


@dataclass
class Layout:
    perm: tuple[int, ...]                 # tflite axis i holds ONNX axis perm[i]
    feature_order: np.ndarray | None = None  # flattened 2-D values: ONNX feature index at each TFLite column


# A calibration that saw a constant-zero tensor (the variance of a 1x1 map) leaves a scale near 0;
# kernels' requantization multipliers then overflow (LiteRT aborts). Zero is exact at any scale, so
# such tensors get this floor instead.
MIN_ACTIVATION_SCALE = 1e-6


def usable_activation_params(params: QParams) -> QParams:
    if params.per_channel or params.scale[0] >= MIN_ACTIVATION_SCALE:
        return params
    return QParams(np.array([MIN_ACTIVATION_SCALE], dtype=np.float32), params.zero_point, params.axis)


def canonical_perm(rank: int) -> tuple[int, ...]:
    """Channels last: [N, C, d1, d2, ...] -> [N, d1, d2, ..., C]."""
    return (0, *range(2, rank), 1) if rank >= 3 else tuple(range(rank))


def maxout_perm() -> tuple[int, ...]:
    """The Max-out split [N, C, h, H, W] stored as [N, H, W, C, h] (heads innermost, as MDW writes them)."""
    return (0, 3, 4, 1, 2)


class Converter:
    """Holds the builder and the value -> (tensor, layout) map while op rules emit operators."""

    def __init__(self, graph: QuantizedGraph, description: str):
        self.graph = graph
        self.builder = TFLiteBuilder(description)
        self.tensors: dict[str, int] = {}
        self.layouts: dict[str, Layout] = {}
        self.params: dict[str, QParams] = {}
        self.skip: set[int] = set()          # nodes folded into an earlier op (fused activations)
        self._names: set[str] = set()

    # -- values --------------------------------------------------------------
    def shape(self, value: str) -> tuple[int, ...]:
        return tuple(int(d) for d in self.graph.shapes[value])

    def tflite_shape(self, value: str, perm: tuple[int, ...] | None = None) -> list[int]:
        shape = self.shape(value)
        perm = perm if perm is not None else self.layouts[value].perm
        return [shape[p] for p in perm]

    def qparams(self, value: str, node_name: str) -> QParams:
        params = self.graph.qparams(value)
        if params is None:
            raise FlynetError(f"value {value!r} (from {node_name}) has no int8 quantization parameters: "
                              "quantize every op output (QuantizeLinear/DequantizeLinear) before converting")
        return usable_activation_params(params)

    def unique_name(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._names:
            n += 1
            candidate = f"{name}_{n}"
        self._names.add(candidate)
        return candidate

    def add_activation(self, value: str, shape: list[int], params: QParams, layout: Layout,
                       name: str | None = None) -> int:
        index = self.builder.add_tensor(self.unique_name(name or value), shape, "int8",
                                        scale=params.scale, zero_point=params.zero_point)
        if name is None:
            self.tensors[value] = index
            self.layouts[value] = layout
            self.params[value] = params
        return index

    def define(self, value: str, perm: tuple[int, ...], node_name: str, params: QParams | None = None,
               feature_order: np.ndarray | None = None) -> int:
        """Create the int8 tensor for an op's output value."""
        params = params or self.qparams(value, node_name)
        return self.add_activation(value, self.tflite_shape(value, perm), params, Layout(perm, feature_order))

    def temp(self, name: str, shape: list[int], params: QParams) -> int:
        return self.builder.add_tensor(self.unique_name(name), shape, "int8",
                                       scale=params.scale, zero_point=params.zero_point)

    def tensor(self, value: str) -> int:
        if value not in self.tensors:
            raise FlynetError(f"value {value!r} is used before it is defined: the ONNX graph is not in topological order")
        return self.tensors[value]

    def const_int32(self, name: str, data) -> int:
        return self.builder.add_constant(self.unique_name(name), np.asarray(data, dtype=np.int32), "int32")

    # -- layout helpers ------------------------------------------------------
    def emit_requantize(self, source: int, source_params: QParams, target_params: QParams, shape: list[int],
                        name: str) -> int:
        """int8 -> int8 QUANTIZE where two parameter sets meet; a no-op when they already agree."""
        if source_params.same_as(target_params):
            return source
        out = self.temp(name, shape, target_params)
        self.builder.add_operator("QUANTIZE", [source], [out])
        return out

    def input_as(self, value: str, params: QParams, name: str) -> int:
        """The value's tensor carrying `params` (requantized if its own differ)."""
        return self.emit_requantize(self.tensor(value), self.params[value], params,
                                    self.tflite_shape(value), f"{name}_requant")

    def emit_with_params(self, opcode: str, inputs: list[int], out_value: str, perm: tuple[int, ...],
                         node_name: str, fixed: QParams, options: dict | None = None) -> None:
        """Emit an op whose int8 output parameters are fixed (by the kernel or by its input), then requantize
        to the value's own parameters if those differ."""
        want = self.qparams(out_value, node_name)
        if fixed.same_as(want):
            out = self.define(out_value, perm, node_name, fixed)
            self.builder.add_operator(opcode, inputs, [out], options)
            return
        shape = self.tflite_shape(out_value, perm)
        mid = self.temp(f"{out_value}_{opcode.lower()}", shape, fixed)
        self.builder.add_operator(opcode, inputs, [mid], options)
        out = self.define(out_value, perm, node_name, want)
        self.builder.add_operator("QUANTIZE", [mid], [out])

    def remap_axis(self, value: str, axis: int) -> int:
        rank = len(self.shape(value))
        return self.layouts[value].perm.index(axis % rank)

    def view_as(self, value: str, perm: tuple[int, ...], node_name: str) -> int:
        """The value's tensor in layout `perm`: itself, or a RESHAPE when only unit axes move."""
        layout = self.layouts[value]
        if layout.perm == perm and layout.feature_order is None:
            return self.tensor(value)
        key = f"{value}@{perm}"
        if key in self.tensors:
            return self.tensors[key]
        shape = self.shape(value)
        if layout.feature_order is not None or not same_element_order(shape, layout.perm, shape, perm):
            raise FlynetError(f"{node_name}: value {value!r} is stored in layout {layout.perm} but is needed in "
                              f"{perm}, which takes a TRANSPOSE: not supported")
        new_shape = self.tflite_shape(value, perm)
        out = self.temp(f"{value}_view", new_shape, self.params[value])
        self.builder.add_operator("RESHAPE", [self.tensor(value), self.const_int32(f"{value}_view_shape", new_shape)],
                                  [out], {"new_shape": new_shape})
        self.tensors[key] = out
        return out

    def preferred_perms(self, value: str, depth: int = 0) -> list[tuple[int, ...]]:
        """Layouts that the value's consumers want, so that no transpose is ever needed, best first."""
        rank = len(self.shape(value))
        wanted: list[tuple[int, ...]] = []
        if depth > 12:
            return wanted
        elementwise = {"Relu", "Clip", "Sigmoid", "HardSwish", "Add", "Sub", "Mul", "Max", "Div", "Pow",
                       "Concat", "Identity", "Dropout"}
        reshapes = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}
        for user in self.graph.consumers(value):
            out = user.outputs[0]
            if user.op in ("Conv", "AveragePool", "MaxPool", "GlobalAveragePool"):
                wanted.append(canonical_perm(rank))
            elif user.op == "Softmax":
                axis = user.attrs.get("axis", -1) % rank
                wanted.append(tuple([a for a in range(rank) if a != axis] + [axis]))
            elif user.op in ("Gemm", "MatMul"):
                wanted.append(tuple(range(rank)))
            elif user.op in elementwise and len(self.shape(out)) == rank:
                wanted.extend(self.preferred_perms(out, depth + 1))
            elif user.op == "Transpose":
                p = list(user.attrs.get("perm", list(reversed(range(rank)))))
                wanted.extend(tuple(p[q] for q in want) for want in self.preferred_perms(out, depth + 1))
            elif user.op in reshapes:
                in_shape, out_shape = self.shape(value), self.shape(out)
                for want in self.preferred_perms(out, depth + 1):
                    wanted.extend(p for p in itertools.permutations(range(rank))
                                  if same_element_order(in_shape, p, out_shape, want))
        if depth:
            return list(dict.fromkeys(wanted))
        ordered = wanted + [canonical_perm(rank), maxout_perm() if rank == 5 else tuple(range(rank)),
                            tuple(range(rank))]
        ordered += list(itertools.permutations(range(rank)))
        return list(dict.fromkeys(ordered))


def same_element_order(in_shape, in_perm, out_shape, out_perm) -> bool:
    """Whether a RESHAPE of the input stored in `in_perm` gives the output stored in `out_perm`."""
    ids = np.arange(int(np.prod(in_shape))).reshape(in_shape)
    return np.array_equal(ids.transpose(in_perm).ravel(), ids.reshape(out_shape).transpose(out_perm).ravel())


def reshape_layout(in_shape: tuple[int, ...], in_perm: tuple[int, ...], out_shape: tuple[int, ...],
                   candidates: list[tuple[int, ...]]) -> tuple[tuple[int, ...], np.ndarray | None]:
    """A layout of the reshaped value that a plain TFLite RESHAPE of the input's layout produces.

    Returns (perm, None), or for a flatten that no permutation expresses, (identity, the ONNX
    feature index at each TFLite position) so that a fully connected consumer can permute weights.
    """
    for perm in candidates:
        if same_element_order(in_shape, in_perm, out_shape, perm):
            return perm, None
    if len(out_shape) == 2 and out_shape[0] == 1:
        return (0, 1), np.arange(int(np.prod(in_shape))).reshape(in_shape).transpose(in_perm).ravel()
    raise FlynetError(f"reshape {in_shape} -> {out_shape} needs a transpose in NHWC: not supported")
