"""Rewrite a BN-folded model's fx graph so that every tensor TFLite holds as int8 is fake-quantized.

The pass, in order:
  1. normalize: drop Dropout / Identity / contiguous, lower ops with no TFLite int8 builtin
     into ones that have one (hardsigmoid -> relu6(x + 3) * 1/6, var -> mean of a squared
     difference, x / c -> x * (1 / c), d ** 2 -> d * d), constant operands -> QuantConstant;
  2. insert an ActFakeQuant after the input and after every op whose output TFLite stores,
     with the op's TFLite constraint on its qparams (see docs/quantization.md):
       free   - own observer (conv, FC, add, sub, mul, mean, hard-swish, relu)
       fixed  - LOGISTIC / SOFTMAX output: scale 1/256, zero point -128
       keep   - output on the input's grid (reshape, slice, pools, max-out, max reductions)
       shared - inputs and output share one scale (concatenation, elementwise maximum)
     A relu / relu6 right after a conv, FC, add, sub or mul is fused into it: only its output is
     quantized. A sub whose only use is d * d is the SQUARED_DIFFERENCE op's inside: not quantized.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from ..errors import FlynetError
from .fold import trace
from .modules import ActFakeQuant, QuantConstant, QuantWeighted
from .qparams import PROBABILITY_QPARAMS

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear)
_REMOVED_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)
_KEEP_MODULES = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
                 nn.AdaptiveAvgPool2d, nn.Flatten, nn.Unflatten)
_RELU_MODULES = (nn.ReLU, nn.ReLU6)
_PROBABILITY_MODULES = (nn.Sigmoid, nn.Softmax)

_ADD = {operator.add, torch.add, "add"}
_SUB = {operator.sub, torch.sub, "sub"}
_MUL = {operator.mul, torch.mul, "mul"}
_DIV = {operator.truediv, torch.div, "div"}
_POW = {operator.pow, torch.pow, "pow"}
_BINARY_FREE = _ADD | _SUB | _MUL
_FREE_FUNCTIONS = {torch.mean, "mean", F.hardswish}
_RELU_FUNCTIONS = {F.relu, torch.relu, "relu", F.relu6}
_PROBABILITY_FUNCTIONS = {torch.sigmoid, F.sigmoid, "sigmoid", torch.softmax, F.softmax, "softmax"}
_KEEP_FUNCTIONS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.permute, torch.transpose,
                   operator.getitem, torch.narrow, torch.amax, torch.max, torch.chunk, torch.split,
                   F.max_pool1d, F.max_pool2d, F.avg_pool1d, F.avg_pool2d, F.adaptive_avg_pool1d,
                   F.adaptive_avg_pool2d, torch.unflatten, "view", "reshape", "flatten", "unflatten", "squeeze",
                   "unsqueeze", "permute", "transpose", "narrow", "amax", "max", "chunk", "split"}
_RESHAPES = {torch.flatten, torch.unflatten, torch.reshape, "view", "reshape", "flatten", "unflatten"}
_SHARED_FUNCTIONS = {torch.cat, torch.concat, torch.maximum}
_FUSABLE_PRODUCERS = {"weighted", "add", "sub", "mul"}
_REMOVED_FUNCTIONS = {F.dropout, "contiguous"}


@dataclass
class QuantGraph:
    """The rewritten graph and, per quantization group, its fixed qparams (None = observed)."""

    graph_module: fx.GraphModule
    fixed_qparams: dict[int, tuple[float, int] | None] = field(default_factory=dict)
    group_of: dict[str, int] = field(default_factory=dict)   # ActFakeQuant module name -> group root
    producer_of: dict[str, str] = field(default_factory=dict)  # ActFakeQuant module name -> quantized node
    input_shape: tuple[int, ...] = ()


def build_quant_graph(model: nn.Module, example_input: torch.Tensor,
                      input_qparams: tuple[float, int] | None = None) -> QuantGraph:
    """Trace `model` (BN already folded) and insert fake quantizers; all start in float mode."""
    graph_module = trace(model.eval())
    _run_shapes(graph_module, example_input)
    _normalize(graph_module)
    _run_shapes(graph_module, example_input)
    result = _insert_quantizers(graph_module, input_qparams)
    result.input_shape = (1, *example_input.shape[1:])
    graph_module.graph.lint()
    graph_module.recompile()
    return result


def _run_shapes(graph_module: fx.GraphModule, example_input: torch.Tensor) -> None:
    with torch.no_grad():
        ShapeProp(graph_module).propagate(example_input)


def _op(node: fx.Node) -> object:
    """The key used in the op tables: the function, the method name, or None for other nodes."""
    return node.target if node.op in ("call_function", "call_method") else None


def _is_float_tensor(node: object) -> bool:
    if not isinstance(node, fx.Node):
        return False
    meta = node.meta.get("tensor_meta")
    return hasattr(meta, "dtype") and meta.dtype.is_floating_point


def _describe(node: fx.Node) -> str:
    target = node.target
    return getattr(target, "__name__", str(target)) if not isinstance(target, str) else target


# ------------------------------------------------------------------------------------------- normalize

def _normalize(graph_module: fx.GraphModule) -> None:
    graph = graph_module.graph
    modules = dict(graph_module.named_modules())
    constants = 0
    for node in list(graph.nodes):
        module = modules.get(node.target) if node.op == "call_module" else None
        op = _op(node)
        if isinstance(module, _REMOVED_MODULES) or op in _REMOVED_FUNCTIONS:
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
        elif isinstance(module, nn.Hardsigmoid) or op is F.hardsigmoid:
            _lower_hardsigmoid(graph, node)
        elif op in (torch.var, "var"):
            _lower_variance(graph, node)
        elif op in _DIV | _MUL and _is_one(_constant_value(graph_module, node.args[1])):
            _replace(graph, node, node.args[0])  # e.g. a softmax temperature of 1 at export time
        elif op in _DIV and _constant_value(graph_module, node.args[1]) is not None:
            with graph.inserting_before(node):
                divisor = _constant_value(graph_module, node.args[1])
                product = graph.call_function(operator.mul, (node.args[0], 1.0 / divisor))
            _replace(graph, node, product)
        elif op in _POW and node.args[1] == 2:
            with graph.inserting_before(node):
                square = graph.call_function(operator.mul, (node.args[0], node.args[0]))
            _replace(graph, node, square)
    # Constant operands of arithmetic ops become int8 constants (TFLite has no scalar operands).
    for node in list(graph.nodes):
        if _op(node) not in _BINARY_FREE | {torch.maximum}:
            continue
        args = list(node.args)
        for i, arg in enumerate(args[:2]):
            value = _constant_value(graph_module, arg)
            if value is None:
                continue
            name = f"quant_constant_{constants}"
            constants += 1
            graph_module.add_module(name, QuantConstant(torch.as_tensor(value, dtype=torch.float32)))
            with graph.inserting_before(node):
                args[i] = graph.call_module(name, ())
        node.args = tuple(args)
    graph.eliminate_dead_code()
    graph_module.delete_all_unused_submodules()
    graph_module.recompile()


def _constant_value(graph_module: fx.GraphModule, arg: object) -> float | torch.Tensor | None:
    if isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return float(arg)
    if isinstance(arg, fx.Node) and arg.op == "get_attr":
        value = graph_module.get_parameter(arg.target) if arg.target in dict(graph_module.named_parameters()) \
            else graph_module.get_buffer(arg.target)
        return value.detach()
    return None


def _is_one(value: float | torch.Tensor | None) -> bool:
    return isinstance(value, float) and value == 1.0


def _replace(graph: fx.Graph, old: fx.Node, new: fx.Node) -> None:
    old.replace_all_uses_with(new)
    graph.erase_node(old)


def _lower_hardsigmoid(graph: fx.Graph, node: fx.Node) -> None:
    """hardsigmoid(x) = relu6(x + 3) * (1/6): ADD with fused RELU6, then MUL, all TFLite int8 builtins."""
    with graph.inserting_before(node):
        shifted = graph.call_function(operator.add, (node.args[0], 3.0))
        clipped = graph.call_function(F.relu6, (shifted,))
        scaled = graph.call_function(operator.mul, (clipped, 1.0 / 6.0))
    _replace(graph, node, scaled)


def _lower_variance(graph: fx.Graph, node: fx.Node) -> None:
    """var(x, dim) = mean((x - mean(x, dim))^2, dim) [* n / (n - 1) when unbiased]."""
    x = node.args[0]
    dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    keepdim = node.kwargs.get("keepdim", False)
    correction = node.kwargs.get("correction", 1 if node.kwargs.get("unbiased", True) else 0)
    if dim is None:
        raise FlynetError(f"variance {node.name} has no dim; call var(x, dim=..., unbiased=False) in the model")
    shape = x.meta["tensor_meta"].shape
    dims = [dim] if isinstance(dim, int) else list(dim)
    count = 1
    for d in dims:
        count *= shape[d]
    with graph.inserting_before(node):
        mean = graph.call_function(torch.mean, (x, dims), {"keepdim": True})
        diff = graph.call_function(operator.sub, (x, mean))
        square = graph.call_function(operator.mul, (diff, diff))
        result = graph.call_function(torch.mean, (square, dims), {"keepdim": keepdim})
        if correction:
            result = graph.call_function(operator.mul, (result, count / (count - correction)))
    _replace(graph, node, result)


# ------------------------------------------------------------------------------------------- insert

def _kind(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "placeholder":
        return "input"
    if node.op == "call_module":
        module = modules[node.target]
        if isinstance(module, _WEIGHTED):
            return "weighted"
        if isinstance(module, _RELU_MODULES):
            return "relu"
        if isinstance(module, nn.Hardswish):
            return "free"
        if isinstance(module, _PROBABILITY_MODULES):
            return "fixed"
        if isinstance(module, _KEEP_MODULES):
            return "keep"
        if isinstance(module, QuantConstant):
            return "constant"
        raise FlynetError(f"layer {node.target} ({type(module).__name__}) has no int8 TFLite mapping; "
                          "build the model from Conv/Linear/ReLU/Hardswish/Sigmoid/Softmax/pooling layers")
    op = _op(node)
    if op in _ADD:
        return "add"
    if op in _SUB:
        return "sub"
    if op in _MUL:
        return "mul"
    if op in _RELU_FUNCTIONS:
        return "relu"
    if op in _FREE_FUNCTIONS:
        return "free"
    if op in _PROBABILITY_FUNCTIONS:
        return "fixed"
    if op in _KEEP_FUNCTIONS:
        return "keep"
    if op in _SHARED_FUNCTIONS:
        return "shared"
    raise FlynetError(f"op {_describe(node)} (node {node.name}) has no int8 TFLite mapping in the quantizer; "
                      "rewrite it with supported ops (see docs/quantization.md)")


class _Groups:
    """Union-find over quantization groups; a merged group keeps a fixed qparams if any member has one."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.fixed: list[tuple[float, int] | None] = []

    def new(self, fixed: tuple[float, int] | None = None) -> int:
        self.parent.append(len(self.parent))
        self.fixed.append(fixed)
        return len(self.parent) - 1

    def root(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def merge(self, a: int, b: int, where: str) -> int:
        a, b = self.root(a), self.root(b)
        if a == b:
            return a
        fa, fb = self.fixed[a], self.fixed[b]
        if fa is not None and fb is not None and fa != fb:
            raise FlynetError(f"{where} joins tensors with different fixed int8 grids {fa} and {fb}; "
                              "rescale one input before concatenating")
        self.parent[b] = a
        self.fixed[a] = fa if fa is not None else fb
        return a


def _insert_quantizers(graph_module: fx.GraphModule, input_qparams: tuple[float, int] | None) -> QuantGraph:
    graph = graph_module.graph
    modules = dict(graph_module.named_modules())
    groups = _Groups()
    group_of_node: dict[fx.Node, int] = {}   # node (its fake quantizer output) -> group
    quant_modules: dict[str, tuple[int, str]] = {}
    kinds = {node: _kind(node, modules) for node in graph.nodes
             if node.op not in ("output", "get_attr") and (_is_float_tensor(node) or _is_tuple(node)
                                                            or node.op == "call_module")}
    counter = 0
    for node in list(graph.nodes):
        kind = kinds.get(node)
        if kind is None or kind == "constant" or not _is_float_tensor(node):
            continue  # non-tensor values, tuples (their getitems are quantized), constant operands
        if kind == "weighted":
            _wrap_weighted(graph_module, node, modules)
        if _is_fused_away(node, kind, kinds):
            continue
        if kind == "input":
            group = groups.new(input_qparams)
        elif kind == "fixed":
            group = groups.new(PROBABILITY_QPARAMS)
        elif kind == "keep":
            group = groups.root(group_of_node[_source_tensor(node)])
        elif kind == "shared":
            inputs = node.args[0] if _op(node) in (torch.cat, torch.concat) else node.args[:2]
            group = groups.new()
            for source in inputs:
                group = groups.merge(group, group_of_node[source], node.name)
        else:
            group = groups.new()
        name = f"quant_{counter}_{node.name}"
        counter += 1
        graph_module.add_module(name, ActFakeQuant(group))
        with graph.inserting_after(node):
            quantized = graph.call_module(name, (node,))
        node.replace_all_uses_with(quantized, delete_user_cb=lambda user: user is not quantized)
        quantized.meta = dict(node.meta)
        group_of_node[quantized] = group
        quant_modules[name] = (group, node.name)
    fixed = {}
    group_of = {}
    for name, (group, _) in quant_modules.items():
        root = groups.root(group)
        group_of[name] = root
        fixed[root] = groups.fixed[root]
        graph_module.get_submodule(name).group = root
    return QuantGraph(graph_module, fixed, group_of, {name: producer for name, (_, producer) in quant_modules.items()})


def _is_tuple(node: fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return isinstance(meta, (tuple, list)) and not isinstance(meta, TensorMetadata)


def _source_tensor(node: fx.Node) -> fx.Node:
    """The quantized tensor whose grid a keep-op's output stays on (through a tuple for chunk/max)."""
    source = node.args[0]
    while isinstance(source, fx.Node) and _is_tuple(source):
        source = source.args[0]
    if not isinstance(source, fx.Node) or not _is_float_tensor(source):
        raise FlynetError(f"op {node.name} keeps its input's int8 grid but its input is not a tensor")
    return source


def _is_fused_away(node: fx.Node, kind: str, kinds: dict[fx.Node, str]) -> bool:
    """True when TFLite computes `node` inside its single consumer (fused relu, squared difference)."""
    if len(node.users) != 1:
        return False
    user = next(iter(node.users))
    if kind in _FUSABLE_PRODUCERS and kinds.get(user) == "relu":
        return True
    return kind == "sub" and kinds.get(user) == "mul" and user.args[0] is node and user.args[1] is node


def _wrap_weighted(graph_module: fx.GraphModule, node: fx.Node, modules: dict[str, nn.Module]) -> None:
    source = node.args[0]
    input_quant = graph_module.get_submodule(source.target) if source.op == "call_module" else None
    if not isinstance(input_quant, ActFakeQuant):
        raise FlynetError(f"layer {node.target} reads a tensor with no int8 qparams; this graph shape is not supported")
    if isinstance(graph_module.get_submodule(node.target), QuantWeighted):
        raise FlynetError(f"layer {node.target} is called more than once; its int32 bias needs one input scale, "
                          "so give each call its own layer")
    parent_name, _, leaf = node.target.rpartition(".")
    parent = graph_module.get_submodule(parent_name) if parent_name else graph_module
    setattr(parent, leaf, QuantWeighted(modules[node.target], input_quant))


# ------------------------------------------------------------------------------------------- export

def freeze_shapes(graph_module: fx.GraphModule, example_input: torch.Tensor) -> fx.GraphModule:
    """Replace shape arithmetic (x.shape, size(), // ...) by the values it takes on `example_input`.

    Exporters then see constant reshape targets instead of Shape/Gather chains; the graph is
    specialized to that input shape (batch 1 for deployment), so call it on a copy.
    """
    values: dict[fx.Node, object] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, node: fx.Node) -> object:
            result = super().run_node(node)
            values[node] = result
            return result

    with torch.no_grad():
        Recorder(graph_module).run(example_input)
    graph = graph_module.graph
    for node in list(graph.nodes):
        if _op(node) in _RESHAPES and isinstance(values.get(node), torch.Tensor):
            # One static RESHAPE instead of the exporter's Shape/Gather/Concat arithmetic.
            with graph.inserting_before(node):
                static = graph.call_function(torch.reshape, (node.args[0], tuple(values[node].shape)))
            static.meta = dict(node.meta)
            _replace(graph, node, static)
        elif node.op in ("call_function", "call_method") and _is_shape_value(values.get(node)):
            constant = tuple(values[node]) if isinstance(values[node], torch.Size) else values[node]
            for user in list(node.users):
                user.args = fx.node.map_arg(user.args, lambda n: constant if n is node else n)
                user.kwargs = fx.node.map_arg(user.kwargs, lambda n: constant if n is node else n)
    graph.eliminate_dead_code()
    graph.lint()
    graph_module.recompile()
    return graph_module


def _is_shape_value(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, (torch.Size, tuple)) and len(value) > 0 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)
