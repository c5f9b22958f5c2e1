"""Which emitter turns a layer kind into its kernel call, and how emitters refuse a configuration."""

from __future__ import annotations

from typing import Callable

from ...errors import FlynetError
from ..graph import Layer, ModelIR, layer_label
from ..layer_code import LayerCode

Emitter = Callable[[ModelIR, Layer, str], LayerCode]
_EMITTERS: dict[str, Emitter] = {}


def emitter(*kinds: str):
    def register(fn: Emitter) -> Emitter:
        for kind in kinds:
            _EMITTERS[kind] = fn
        return fn
    return register


def emit_layer(ir: ModelIR, layer: Layer, prefix: str) -> LayerCode:
    """C for one layer; `prefix` names its constant arrays. Unsupported configurations fail naming the layer."""
    fn = _EMITTERS.get(layer.kind)
    if fn is None:
        raise FlynetError(f"layer {layer_label(ir, layer)}: no kernel call is known for {layer.kind}")
    try:
        return fn(ir, layer, prefix)
    except ValueError as exc:  # kernel_params refuses parameters TFLM refuses too
        raise FlynetError(f"layer {layer_label(ir, layer)}: {exc}") from exc


def unsupported(ir: ModelIR, layer: Layer, what: str) -> FlynetError:
    return FlynetError(f"layer {layer_label(ir, layer)}: {what} is not supported by the kernels")
