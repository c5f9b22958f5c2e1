"""Read a QDQ ONNX model into a small float graph whose values carry int8 quantization.

QuantizeLinear -> DequantizeLinear pairs disappear: the pair's float input value
takes the pair's (scale, zero point), and every use of the DequantizeLinear
output is renamed to that value. Constant weights behind Q/DQ become int8
arrays with their (per-channel) parameters. Shape-computing subgraphs are
folded to constants, so what is left is the compute graph the converter lowers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import FlynetError

# Ops whose output holds a subset of the input's values: a value with no
# quantization of its own may borrow it across them.
VALUE_PRESERVING = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Pad", "MaxPool", "ReduceMax",
                    "Identity", "Dropout", "Transpose"}
# Activations fused into the producing op when nothing else reads the producer's output.
FUSABLE_ACTIVATIONS = {"Relu", "Clip"}


@dataclass(frozen=True)
class QParams:
    scale: np.ndarray        # float32, 1 per tensor or 1 per channel
    zero_point: np.ndarray   # int64, same length
    axis: int = 0            # ONNX channel axis when per-channel

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    def same_as(self, other: "QParams") -> bool:
        return (self.scale.size == other.scale.size and np.array_equal(self.scale, other.scale)
                and np.array_equal(self.zero_point, other.zero_point))


@dataclass
class Node:
    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)


@dataclass
class QuantizedGraph:
    nodes: list[Node]                                     # compute nodes, topological order
    shapes: dict[str, tuple[int, ...]]                    # ONNX (NCHW) shape of every value
    quant: dict[str, QParams]                             # activation value -> its own Q/DQ params
    weights: dict[str, tuple[np.ndarray, QParams]]        # value -> (integer data, params)
    consts: dict[str, np.ndarray]                         # unquantized constants (float biases, shapes, axes)
    inputs: list[str]
    outputs: list[str]
    _consumers: dict[str, list[Node]] = field(default_factory=dict, repr=False)
    _producer: dict[str, Node] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for node in self.nodes:
            for v in dict.fromkeys(node.inputs):  # Mul(d, d) is one use of d
                if v:
                    self._consumers.setdefault(v, []).append(node)
            for v in node.outputs:
                self._producer[v] = node

    def consumers(self, value: str) -> list[Node]:
        return self._consumers.get(value, [])

    def producer(self, value: str) -> Node | None:
        return self._producer.get(value)

    def is_graph_output(self, value: str) -> bool:
        return value in self.outputs

    def qparams(self, value: str) -> QParams | None:
        """The value's int8 parameters: its own, else borrowed across value-preserving ops."""
        return self._forward_params(value, set()) or self._backward_params(value, set())

    def _forward_params(self, value: str, seen: set[str]) -> QParams | None:
        if value in self.quant:
            return self.quant[value]
        users = self.consumers(value)
        if value in seen or len(users) != 1 or self.is_graph_output(value):
            return None
        seen.add(value)
        user = users[0]
        passes_through = user.op == "Concat" or (user.op in VALUE_PRESERVING | FUSABLE_ACTIVATIONS
                                                 and user.inputs[0] == value)
        return self._forward_params(user.outputs[0], seen) if passes_through else None

    def _backward_params(self, value: str, seen: set[str]) -> QParams | None:
        if value in self.quant:
            return self.quant[value]
        node = self.producer(value)
        if value in seen or node is None or node.op not in VALUE_PRESERVING | FUSABLE_ACTIVATIONS:
            return None
        seen.add(value)
        return self._backward_params(node.inputs[0], seen)

    def const_value(self, value: str) -> np.ndarray | None:
        return self.consts.get(value)


def load_onnx(source: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    if isinstance(source, onnx.ModelProto):
        return source
    path = Path(source)
    if not path.is_file():
        raise FlynetError(f"ONNX file {path} does not exist: pass the path of a .onnx model")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise FlynetError(f"{path} does not parse as ONNX ({type(exc).__name__}): pass a valid .onnx file") from exc


def read_qdq_graph(source: str | Path | onnx.ModelProto) -> QuantizedGraph:
    model = load_onnx(source)
    if not model.graph.node:
        raise FlynetError("the ONNX graph has no nodes: export the model again")
    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:
        raise FlynetError(f"ONNX shape inference failed ({exc}): export with static input shapes") from exc
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)

    shapes = _value_shapes(graph)
    consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    init_names = set(consts)
    inputs = [i.name for i in graph.input if i.name not in init_names]
    outputs = [o.name for o in graph.output]

    alias: dict[str, str] = {}
    quant: dict[str, QParams] = {}
    weights: dict[str, tuple[np.ndarray, QParams]] = {}
    quantized_inputs: dict[str, tuple[str, QParams]] = {}   # Q output -> (float input, params)
    compute: list[Node] = []

    def name_of(v: str) -> str:
        while v in alias:
            v = alias[v]
        return v

    for proto in graph.node:
        node = Node(proto.op_type, proto.name or proto.output[0], [name_of(v) for v in proto.input],
                    list(proto.output), {a.name: onnx.helper.get_attribute_value(a) for a in proto.attribute})
        if proto.domain not in ("", "ai.onnx"):
            compute.append(node)
            continue
        if node.op == "Constant":
            consts[node.outputs[0]] = _constant_value(node)
        elif node.op in ("QuantizeLinear", "DequantizeLinear"):
            params = _qparams(node, consts)
            source_value = node.inputs[0]
            if node.op == "QuantizeLinear":
                if source_value in consts:
                    data = consts[source_value]
                    q = _quantize(data, params)
                    consts[node.outputs[0]] = q
                    weights[node.outputs[0]] = (q, params)
                else:
                    quantized_inputs[node.outputs[0]] = (source_value, params)
                    _set_quant(quant, source_value, params, node)
                    alias[node.outputs[0]] = source_value
            else:
                if source_value in weights:
                    weights[node.outputs[0]] = (weights[source_value][0], params)
                elif source_value in consts:
                    weights[node.outputs[0]] = (consts[source_value].astype(np.int64), params)
                elif source_value in quant or source_value in inputs:
                    _set_quant(quant, source_value, params, node)
                    alias[node.outputs[0]] = source_value
                else:
                    raise FlynetError(f"DequantizeLinear {node.name} reads {source_value!r}, which no QuantizeLinear "
                                      "produced: the QDQ graph is malformed, export it again")
        elif all(v == "" or v in consts for v in node.inputs) and node.op not in ("Shape", "Size"):
            _fold(node, consts, opset)
        elif node.op in ("Shape", "Size") and node.inputs[0] in shapes and None not in shapes[node.inputs[0]]:
            shape = shapes[node.inputs[0]]
            start, end = node.attrs.get("start", 0), node.attrs.get("end", len(shape))
            consts[node.outputs[0]] = (np.array(shape[start:end], dtype=np.int64) if node.op == "Shape"
                                       else np.array(int(np.prod(shape)), dtype=np.int64))
        else:
            compute.append(node)

    outputs = [name_of(v) for v in outputs]
    live = _live_nodes(compute, outputs, consts)
    if any(v not in shapes or None in shapes[v] for n in live for v in n.outputs):
        shapes.update(_shapes_with_folded_constants(model, consts, init_names))
    for value, shape in list(shapes.items()):
        if value in alias:
            shapes.setdefault(name_of(value), shape)
    missing = [v for n in live for v in n.outputs if v not in shapes or None in shapes[v]]
    if missing:
        raise FlynetError(f"ONNX value {missing[0]!r} has no static shape: export with a fixed input size")
    return QuantizedGraph(live, shapes, quant, weights, consts, inputs, outputs)


def _value_shapes(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        t = info.type.tensor_type
        if t.HasField("shape"):
            shapes[info.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
    for init in graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _shapes_with_folded_constants(model: onnx.ModelProto, consts: dict[str, np.ndarray],
                                  init_names: set[str]) -> dict[str, tuple[int, ...]]:
    """Shape inference again, with computed shape operands (Shape -> Gather -> Concat) as initializers."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.graph.value_info[:]
    for name, value in consts.items():
        if name not in init_names and value.dtype == np.int64:
            copy.graph.initializer.append(numpy_helper.from_array(value, name))
    return _value_shapes(onnx.shape_inference.infer_shapes(copy, data_prop=True).graph)


def _constant_value(node: Node) -> np.ndarray:
    attrs = node.attrs
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key in ("value_float", "value_int"):
        if key in attrs:
            return np.array(attrs[key])
    for key in ("value_floats", "value_ints"):
        if key in attrs:
            return np.array(list(attrs[key]))
    raise FlynetError(f"Constant node {node.name} has an unsupported value kind: export without sparse constants")


def _qparams(node: Node, consts: dict[str, np.ndarray]) -> QParams:
    if len(node.inputs) < 2 or node.inputs[1] not in consts:
        raise FlynetError(f"{node.op} {node.name} has a computed scale: export with constant quantization parameters")
    scale = np.atleast_1d(np.asarray(consts[node.inputs[1]], dtype=np.float32)).ravel()
    if len(node.inputs) > 2 and node.inputs[2]:
        zp_array = consts[node.inputs[2]]
        if zp_array.dtype not in (np.int8, np.int32) and zp_array.dtype != np.uint8:
            raise FlynetError(f"{node.op} {node.name}: zero point of type {zp_array.dtype} is not supported, use int8")
        if zp_array.dtype == np.uint8:
            raise FlynetError(f"{node.op} {node.name} quantizes to uint8: re-export with int8 (signed) activations")
        zero_point = np.atleast_1d(zp_array.astype(np.int64)).ravel()
    else:
        zero_point = np.zeros(scale.size, dtype=np.int64)
    if zero_point.size == 1 and scale.size > 1:
        zero_point = np.repeat(zero_point, scale.size)
    return QParams(scale, zero_point, int(node.attrs.get("axis", 1)) if scale.size > 1 else 0)


def _quantize(data: np.ndarray, params: QParams) -> np.ndarray:
    """ONNX QuantizeLinear on a constant: round half to even, saturate to int8."""
    shape = [1] * data.ndim
    if params.per_channel:
        shape[params.axis] = -1
    scale = params.scale.reshape(shape)
    zp = params.zero_point.reshape(shape)
    q = np.rint(data.astype(np.float32) / scale) + zp
    return np.clip(q, -128, 127).astype(np.int64)


def _set_quant(quant: dict[str, QParams], value: str, params: QParams, node: Node) -> None:
    if value in quant and not quant[value].same_as(params):
        raise FlynetError(f"value {value!r} is quantized twice with different parameters (at {node.name}): "
                          "give each tensor one QuantizeLinear")
    quant[value] = params


def _fold(node: Node, consts: dict[str, np.ndarray], opset: int) -> None:
    """Evaluate a node whose inputs are all constants (shape arithmetic, constant reshapes)."""
    from onnx.reference import ReferenceEvaluator

    proto = onnx.helper.make_node(node.op, [v for v in node.inputs], node.outputs, **node.attrs)
    feeds = {v: consts[v] for v in node.inputs if v}
    try:
        results = ReferenceEvaluator(proto, opsets={"": opset}).run(None, feeds)
    except Exception as exc:
        raise FlynetError(f"cannot fold constant node {node.name} ({node.op}): {exc}") from exc
    for name, value in zip(node.outputs, results):
        consts[name] = np.asarray(value)


def _live_nodes(nodes: list[Node], outputs: list[str], consts: dict[str, np.ndarray]) -> list[Node]:
    """The nodes the graph outputs depend on through non-constant values."""
    producer = {v: n for n in nodes for v in n.outputs}
    needed: set[int] = set()
    stack = [v for v in outputs]
    while stack:
        v = stack.pop()
        node = producer.get(v)
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(x for x in node.inputs if x and x not in consts)
    return [n for n in nodes if id(n) in needed]
