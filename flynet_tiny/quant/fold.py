"""Fold eval-mode BatchNorm into the convolution (or linear layer) that feeds it.

conv -> BN computes gamma * (W x + b - mean) / sqrt(var + eps) + beta, which is one conv
with W' = W * k and b' = (b - mean) * k + beta, k = gamma / sqrt(var + eps) per output
channel. Grouped / depthwise / MDW convs fold the same way: BN channels are conv outputs.
"""

from __future__ import annotations

import copy

import torch
import torch.fx as fx
from torch import nn

from ..errors import FlynetError

_FOLDABLE = (nn.Conv1d, nn.Conv2d, nn.Linear)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def trace(model: nn.Module) -> fx.GraphModule:
    """Symbolically trace `model` (torch.nn modules stay leaves); FlynetError if it cannot be traced."""
    try:
        graph_module = fx.symbolic_trace(model)
    except Exception as exc:  # fx raises many types (TraceError, TypeError, ...) for untraceable code
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FlynetError(f"cannot trace {type(model).__name__} with torch.fx ({first}); "
                          "remove data-dependent Python control flow from its forward()") from None
    # String annotations (from __future__ import annotations) would make the module unpicklable.
    for node in graph_module.graph.nodes:
        if isinstance(node.type, str):
            node.type = None
    graph_module.recompile()
    return graph_module


def folded_conv(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    """A copy of `layer` (conv or linear) with `bn` folded into its weight and bias."""
    if bn.num_features != layer.weight.shape[0] or not bn.track_running_stats:
        raise FlynetError(f"BatchNorm with {bn.num_features} channels cannot fold into a layer with "
                          f"{layer.weight.shape[0]} outputs; put BN right after its conv")
    fused = copy.deepcopy(layer)
    # float64 keeps the fold itself from adding error on top of the float32 result.
    weight = layer.weight.detach().double()
    bias = layer.bias.detach().double() if layer.bias is not None else torch.zeros(weight.shape[0], dtype=torch.float64)
    gamma = bn.weight.detach().double() if bn.affine else torch.ones_like(bias)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros_like(bias)
    k = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
    fused.weight = nn.Parameter((weight * k.view(-1, *([1] * (weight.ndim - 1)))).float())
    fused.bias = nn.Parameter(((bias - bn.running_mean.double()) * k + beta).float())
    return fused


def fold_batchnorm(model: nn.Module) -> fx.GraphModule:
    """An eval-mode copy of `model` with every conv/linear -> BatchNorm pair folded into one layer.

    The input model is not modified. Raises FlynetError for a BatchNorm that has no conv to fold into.
    """
    model = copy.deepcopy(model).eval()
    graph_module = trace(model)
    modules = dict(graph_module.named_modules())
    for node in list(graph_module.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], _BATCHNORMS):
            continue
        producer = node.args[0]
        if not (isinstance(producer, fx.Node) and producer.op == "call_module"
                and isinstance(modules[producer.target], _FOLDABLE) and len(producer.users) == 1):
            raise FlynetError(f"BatchNorm {node.target} does not directly follow a conv or linear layer, "
                              "so it cannot be folded; place each BatchNorm right after its conv")
        _set_submodule(graph_module, producer.target, folded_conv(modules[producer.target], modules[node.target]))
        node.replace_all_uses_with(producer)
        graph_module.graph.erase_node(node)
    graph_module.graph.lint()
    graph_module.delete_all_unused_submodules()
    graph_module.recompile()
    if hasattr(model, "config"):
        graph_module.config = model.config
    return graph_module.eval()


def _set_submodule(root: nn.Module, qualified_name: str, module: nn.Module) -> None:
    parent_name, _, leaf = qualified_name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, leaf, module)
