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

# Ops that map onto one kernel of firmware/kernels/flynet_kernels.h (or onto a view). Ops computable at
# generation time (SHAPE, PACK, ... on constants: fold.FOLDABLE_OPS) need none.
SUPPORTED_OPS = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "FULLY_CONNECTED",
    "HARD_SWISH", "LEAKY_RELU", "LOGISTIC", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PAD", "PADV2",
    "PRELU", "QUANTIZE", "REDUCE_MAX", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "SLICE", "SOFTMAX", "SPLIT", "SPLIT_V", "SQUARED_DIFFERENCE", "STRIDED_SLICE",
    "SUB", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
)
# Ops whose data operands may be constants (kept in flash beside the weights).
CONSTANT_OPERAND_OPS = ("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "CONCATENATION")


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
    """One layer per operator, reading its non-constant operands. Nothing is checked yet: constant
    folding (`fold.py`) comes first, then `check_supported` names whatever is left unsupported."""
    layers = []
    for op in graph.operators:
        activations = [t for t in op.inputs if t >= 0 and graph.tensors[t].data is None]
        layers.append(Layer(op.opcode, [op], activations, list(op.outputs)))
    ir = ModelIR(graph, layers, tuple(graph.inputs), tuple(graph.outputs))
    ir.renumber()
    return ir


def _op_label(graph: TFLiteGraph, op: TFLiteOperator) -> str:
    name = graph.tensors[op.outputs[0]].name if op.outputs else "?"
    return f"{op.opcode} (layer #{op.index} {name!r})"


def check_supported(ir: ModelIR) -> ModelIR:
    """One line naming every op the code generator has no kernel for (each with its layer), else one
    naming the first tensor of a wrong type: activations are int8 with quantization parameters; only
    QUANTIZE reads uint8 / float32 (a model input) and only DEQUANTIZE writes float32 (a model output)."""
    graph = ir.graph
    unsupported = [_op_label(graph, l.op) for l in ir.layers
                   if l.kind not in SUPPORTED_OPS]
    if unsupported:
        raise FlynetError(
            f"the code generator does not support {len(unsupported)} op(s) of this model: {'; '.join(unsupported)}. "
            f"Supported: {', '.join(SUPPORTED_OPS)}"
        )
    consumers = ir.consumers()
    for layer in ir.layers:
        op = layer.op
        # Kernels read their data from activations; only elementwise pairs and concatenations take
        # constants there (TRANSPOSE_CONV's first operand is its output shape, SPLIT's its axis: constants).
        data_operand = op.inputs[2] if op.opcode == "TRANSPOSE_CONV" and len(op.inputs) > 2 else \
            op.inputs[1] if op.opcode == "SPLIT" else op.inputs[0]
        if not layer.inputs or (op.opcode not in CONSTANT_OPERAND_OPS and data_operand not in layer.inputs):
            raise FlynetError(f"{_op_label(graph, op)} computes on a constant input, which the code generator does "
                              "not take: fold it into a constant when exporting")
        for t in layer.inputs:
            _require_type(graph, op, t, EDGE_INPUT_TYPES if op.opcode == "QUANTIZE" else ("int8",))
        for t in op.outputs:
            if op.opcode == "DEQUANTIZE":
                if t in consumers or t not in ir.outputs:
                    raise FlynetError(f"{_op_label(graph, op)}: a DEQUANTIZE inside the model (float ops after it) "
                                      "is not supported: only at a model output")
                _require_type(graph, op, t, ("float32",))
            else:
                _require_type(graph, op, t, ("int8", "uint8") if op.opcode == "QUANTIZE" else ("int8",))
    return ir


# What a QUANTIZE may read: a model input of any of these types, or any int8 tensor.
EDGE_INPUT_TYPES = ("int8", "uint8", "float32")


def _require_type(graph: TFLiteGraph, op: TFLiteOperator, index: int, dtypes: tuple[str, ...]) -> None:
    tensor = graph.tensors[index]
    if tensor.dtype not in dtypes:
        raise FlynetError(
            f"{_op_label(graph, op)}: tensor {tensor.name!r} is {tensor.dtype}; this op takes "
            f"{' or '.join(dtypes)} here ({tensor.dtype} activations are not supported): quantize the model to int8"
        )
    if tensor.dtype != "float32" and (tensor.scale is None or tensor.scale.size != 1):
        what = "no quantization parameters" if tensor.scale is None else "per-channel quantization"
        raise FlynetError(f"{_op_label(graph, op)}: activation {tensor.name!r} has {what}: "
                          "activations need one scale and zero point (full-integer int8 quantization)")


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
