"""The code generator's IR: a TFLite graph lowered to an ordered list of layers.

A layer is one kernel call in the generated C (or a no-copy view, for RESHAPE).
It starts as one TFLite operator; fusion passes (`fuse.py`) replace runs of
operators with one fused layer (MDW + Max-out, the ECA chain), so a layer keeps
the original operators it stands for in `ops`, and its activation tensors in
`inputs` / `outputs`. Constant operands stay in the TFLite graph, where the
emitter reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import FlynetError
from ..tflite import TFLiteGraph, TFLiteOperator, TFLiteTensor

# Ops that map onto one kernel of firmware/kernels/flynet_kernels.h (or onto a view).
SUPPORTED_OPS = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
    "HARD_SWISH", "LOGISTIC", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "RESHAPE", "SLICE",
    "SOFTMAX", "STRIDED_SLICE",
)
# Ops that only appear inside a fused pattern; alone they have no kernel.
FUSION_ONLY_OPS = ("REDUCE_MAX", "SQUARED_DIFFERENCE")


@dataclass
class Layer:
    kind: str                          # a TFLite opcode, or a fused kind ("MDW_MAXOUT", "ECA")
    ops: list[TFLiteOperator]          # the TFLite operators this layer computes, in order
    inputs: list[int]                  # activation tensors read (TFLite tensor indices)
    outputs: list[int]                 # activation tensors written
    index: int = -1                    # position in the layer list, set by `renumber`
    attrs: dict = field(default_factory=dict)  # what a fusion pass found for its emitter (e.g. a channel map)

    @property
    def op(self) -> TFLiteOperator:
        """The operator that defines the layer's parameters (the first, for fused layers)."""
        return self.ops[0]

    @property
    def options(self) -> dict:
        return self.op.options


@dataclass
class ModelIR:
    graph: TFLiteGraph
    layers: list[Layer]
    inputs: tuple[int, ...] = field(default=())
    outputs: tuple[int, ...] = field(default=())

    def tensor(self, index: int) -> TFLiteTensor:
        return self.graph.tensors[index]

    def constant(self, layer: Layer, position: int, op: TFLiteOperator | None = None) -> np.ndarray | None:
        """The constant operand at input `position` of the layer's (or `op`'s) operator, None if omitted."""
        op = op or layer.op
        if position >= len(op.inputs) or op.inputs[position] < 0:
            return None
        tensor = self.graph.tensors[op.inputs[position]]
        if tensor.data is None:
            raise FlynetError(
                f"layer {layer_label(self, layer)}: operand {position} of {op.opcode} must be a constant"
            )
        return tensor.data

    def consumers(self) -> dict[int, list[Layer]]:
        users: dict[int, list[Layer]] = {}
        for layer in self.layers:
            for t in layer.inputs:
                users.setdefault(t, []).append(layer)
        return users

    def producers(self) -> dict[int, Layer]:
        return {t: layer for layer in self.layers for t in layer.outputs}

    def renumber(self) -> None:
        for i, layer in enumerate(self.layers):
            layer.index = i


def layer_label(ir: ModelIR, layer: Layer) -> str:
    """How errors and comments name a layer: operator index, kind and output tensor name."""
    name = ir.graph.tensors[layer.outputs[0]].name if layer.outputs else "?"
    return f"#{layer.op.index} {layer.kind} ({name!r})"


def c_identifier(text: str, limit: int = 40) -> str:
    """A readable C identifier from a tensor name (letters, digits and underscores)."""
    ident = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_")[:limit].strip("_")
    return ident if ident and not ident[0].isdigit() else f"t_{ident}"


def lower(graph: TFLiteGraph) -> ModelIR:
    """One layer per operator; activation tensors must be int8 with quantization parameters."""
    graph.require_int8()
    layers = []
    for op in graph.operators:
        if op.opcode not in SUPPORTED_OPS and op.opcode not in FUSION_ONLY_OPS:
            name = graph.tensors[op.outputs[0]].name if op.outputs else "?"
            raise FlynetError(
                f"layer #{op.index} ({name!r}) uses {op.opcode}, which the code generator does not support: "
                f"use only {', '.join(SUPPORTED_OPS)}"
            )
        activations = [t for t in op.inputs if t >= 0 and graph.tensors[t].data is None]
        for t in (*activations, *op.outputs):
            tensor = graph.tensors[t]
            if tensor.dtype != "int8" or tensor.scale is None:
                raise FlynetError(
                    f"layer #{op.index} {op.opcode}: tensor {tensor.name!r} is {tensor.dtype} without int8 "
                    "quantization: quantize the whole model to int8"
                )
        layers.append(Layer(op.opcode, [op], activations, list(op.outputs)))
    ir = ModelIR(graph, layers, tuple(graph.inputs), tuple(graph.outputs))
    ir.renumber()
    return ir


def same_quantization(a: TFLiteTensor, b: TFLiteTensor) -> bool:
    return (
        a.scale is not None and b.scale is not None and a.scale.size == 1 and b.scale.size == 1
        and float(a.scale[0]) == float(b.scale[0]) and int(a.zero_point[0]) == int(b.zero_point[0])
    )


def dims4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A shape as NHWC with leading ones, the way the kernels take every tensor."""
    if len(shape) > 4:
        raise ValueError(f"shape {shape} has more than 4 dimensions")
    return tuple([1] * (4 - len(shape)) + list(shape))  # type: ignore[return-value]
