"""Exact per-layer profile of any traceable model, counted from its torch.fx graph.

Counts, per graph node (batch 1):
- params: parameters of the module the node calls (each module counted once);
- MAdds: conv k*k*cin/groups*cout*Hout*Wout (1-D alike), linear in*out; nothing else
  (pooling, Max-out, ECA statistics, adds and BN are not multiply-adds by the MobileNet convention),
  except inside modules with `counts_elementwise_madds = True` (MicroNet's dynamic Shift-Max, whose
  paper counts applying its coefficients): there each tensor-by-tensor multiply counts one MAdd per
  output element;
- int8 activation bytes: elements of the node's output, one byte each.

Peak int8 activation memory of a naive schedule: nodes run in graph order, every op writes a new
buffer that lives from its producer to its last consumer (no in-place, no memory planning); the
peak is the largest sum of live buffers while any op runs (its inputs, its output and every
shortcut tensor held for later).  Ops that produce no buffer after deployment share their input's:
BatchNorm (folded into the conv), ReLU and ReLU6 (fused into the conv), Dropout / QuantNoise / Identity
(identity at inference) and pure reshapes (flatten, unflatten, view, reshape, unsqueeze).
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from .quant_noise import QuantNoise

_ALIAS_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Dropout, nn.Identity, nn.Flatten, QuantNoise)
_ALIAS_METHODS = {"flatten", "unflatten", "view", "reshape", "unsqueeze", "squeeze"}
_ALIAS_FUNCTIONS = {torch.flatten, torch.reshape, torch.unsqueeze, torch.squeeze}
_MULTIPLIES = {operator.mul, torch.mul, "mul"}


@dataclass(frozen=True)
class LayerProfile:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    madds: int
    activation_bytes: int


@dataclass(frozen=True)
class Profile:
    model: str
    input_shape: tuple[int, ...]
    layers: tuple[LayerProfile, ...]
    total_params: int
    backbone_params: int
    total_madds: int
    peak_activation_bytes: int
    peak_layer: str

    def to_dict(self) -> dict:
        return asdict(self)


def _madds(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        kernel = math.prod(module.kernel_size)
        return output.numel() * module.in_channels // module.groups * kernel
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def _elementwise_madds(node: fx.Node, numel: int, model_modules: dict[str, nn.Module]) -> int:
    """One MAdd per output element for a tensor-by-tensor multiply inside a module that counts them."""
    if node.op not in ("call_function", "call_method") or node.target not in _MULTIPLIES:
        return 0
    if not all(isinstance(a, fx.Node) for a in node.args[:2]):
        return 0  # scaling by a Python constant
    stack = node.meta.get("nn_module_stack") or {}
    owner = model_modules.get(next(reversed(stack))) if stack else None
    return numel if getattr(owner, "counts_elementwise_madds", False) else 0


def _is_alias(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(modules[node.target], _ALIAS_MODULES)
    if node.op == "call_method":
        return node.target in _ALIAS_METHODS
    if node.op == "call_function":
        return node.target in _ALIAS_FUNCTIONS
    return False


def _kind(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return type(modules[node.target]).__name__
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


def _layer_name(node: fx.Node) -> str:
    """Module path for module calls; functional ops are named inside the module that runs them."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return f"{next(reversed(stack))}.{node.name}" if stack else node.name


def profile_model(model: nn.Module, input_size: int, in_channels: int = 3, name: str | None = None) -> Profile:
    """Profile `model` on one `in_channels` x `input_size` x `input_size` image (eval mode)."""
    was_training = model.training
    model.eval()
    try:
        graph_module = fx.symbolic_trace(model)
        sample = torch.zeros(1, in_channels, input_size, input_size)
        with torch.no_grad():
            ShapeProp(graph_module).propagate(sample)
    finally:
        model.train(was_training)
    modules = dict(graph_module.named_modules())
    model_modules = dict(model.named_modules())
    nodes = [n for n in graph_module.graph.nodes if n.op != "output"]

    layers: list[LayerProfile] = []
    counted: set[str] = set()
    buffer_of: dict[fx.Node, fx.Node] = {}  # node -> node that owns the buffer it lives in
    buffer_bytes: dict[fx.Node, int] = {}
    for node in nodes:
        meta = node.meta.get("tensor_meta")
        if not hasattr(meta, "shape"):
            continue  # non-tensor values (shapes, tuples) hold no activation memory
        shape = tuple(int(d) for d in meta.shape)
        numel = math.prod(shape)
        params = madds = 0
        if node.op == "call_module":
            module = modules[node.target]
            if node.target not in counted:
                counted.add(node.target)
                params = sum(p.numel() for p in module.parameters())
            with torch.no_grad():
                madds = _madds(module, torch.empty(shape, device="meta"))
        elif node.op == "get_attr":
            continue  # constants and stray parameters are counted below
        else:
            madds = _elementwise_madds(node, numel, model_modules)
        tensor_inputs = [a for a in node.all_input_nodes if a in buffer_of]
        if _is_alias(node, modules) and tensor_inputs:
            buffer_of[node] = buffer_of[tensor_inputs[0]]
        else:
            buffer_of[node] = node
            buffer_bytes[node] = numel
        if node.op != "placeholder":
            layers.append(LayerProfile(_layer_name(node), _kind(node, modules), shape, params, madds, numel))

    stray = sum(p.numel() for n, p in model.named_parameters()
                if not any(n.startswith(f"{m}.") for m in counted))
    total_params = sum(layer.params for layer in layers) + stray
    backbone_params = sum(layer.params for layer in layers if not layer.name.startswith("classifier"))
    peak, peak_layer = _naive_schedule_peak(graph_module, nodes, buffer_of, buffer_bytes)
    return Profile(
        model=name or getattr(getattr(model, "config", None), "name", type(model).__name__),
        input_shape=(1, in_channels, input_size, input_size),
        layers=tuple(layers),
        total_params=total_params,
        backbone_params=backbone_params,
        total_madds=sum(layer.madds for layer in layers),
        peak_activation_bytes=peak,
        peak_layer=peak_layer,
    )


def _naive_schedule_peak(graph_module: fx.GraphModule, nodes: list[fx.Node],
                         buffer_of: dict[fx.Node, fx.Node], buffer_bytes: dict[fx.Node, int]) -> tuple[int, str]:
    order = {node: i for i, node in enumerate(graph_module.graph.nodes)}
    last_use: dict[fx.Node, int] = {}
    for node in graph_module.graph.nodes:
        for source in node.all_input_nodes:
            if source in buffer_of:
                owner = buffer_of[source]
                last_use[owner] = max(last_use.get(owner, 0), order[node])
    live: dict[fx.Node, int] = {}
    peak, peak_layer = 0, ""
    for node in nodes:
        if node not in buffer_of:
            continue
        owner = buffer_of[node]
        if owner is node:
            live[node] = buffer_bytes[node]
        current = sum(live.values())
        if current > peak:
            peak, peak_layer = current, _layer_name(node)
        for owner_done in [o for o in live if last_use.get(o, order[o]) <= order[node]]:
            del live[owner_done]
    return peak, peak_layer


def format_profile(profile: Profile, as_json: bool = False) -> str:
    """The per-layer table and totals for the terminal, or the same data as JSON."""
    from ..reporting import format_table, to_json

    if as_json:
        return to_json(profile.to_dict())
    rows = [[layer.name, layer.kind, "x".join(str(d) for d in layer.output_shape), layer.params, layer.madds,
             layer.activation_bytes] for layer in profile.layers]
    table = format_table(["layer", "type", "output", "params", "MAdds", "int8 act bytes"], rows, "lllrrr")
    totals = format_table(["total", "value"], [
        ["params", f"{profile.total_params:,} ({profile.total_params / 1e6:.3f}M)"],
        ["backbone params", f"{profile.backbone_params:,} ({profile.backbone_params / 1e6:.3f}M)"],
        ["MAdds", f"{profile.total_madds:,} ({profile.total_madds / 1e6:.2f}M)"],
        ["peak int8 activations", f"{profile.peak_activation_bytes:,} bytes (at {profile.peak_layer})"],
    ], "lr")
    return f"{profile.model}, input {'x'.join(map(str, profile.input_shape))}\n{table}\n\n{totals}"
