"""Model names -> configurations, with the input checks every entry point shares.

Names: `flynet-h<heads>-<width>` (heads 1..5, width 0.25..1.0), `mobilenetv3-small-<width>` and
`micronet-m<0..3>[-<width>]` (width 0.25..2.0, 1.0 when left out).  `list_models()` gives the
canonical set.  A config dict names its family in `family` ("micronet"); FlyNet and MobileNetV3
dicts have no such key.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import FlynetError
from .flynet import FlyNet, ModelConfig
from .mdw import REDUCTIONS
from .micronet import VARIANTS, MicroNet, MicroNetConfig
from .quant_noise import QUANT_NOISE_LEVELS

HEADS_RANGE = (1, 5)
WIDTH_RANGE = (0.25, 1.0)
IN_CHANNELS = (1, 3)
STEM_STRIDES = (1, 2)
FLYNET_WIDTHS = ("0.25", "0.4", "0.5", "0.6", "0.7", "0.8", "1.0")
MICRONET_WIDTH_RANGE = (0.25, 2.0)

_FLYNET = re.compile(r"flynet-h(\d+)-(\d+(?:\.\d+)?)x?")
_MOBILENET = re.compile(r"mobilenetv3-small-(\d+(?:\.\d+)?)x?")
_MICRONET = re.compile(r"micronet-(m\d+)(?:-(\d+(?:\.\d+)?)x?)?")

AnyConfig = ModelConfig | MicroNetConfig
AnyModel = FlyNet | MicroNet


def list_models() -> list[str]:
    names = [f"flynet-h3-{w}" for w in FLYNET_WIDTHS]
    names += [f"flynet-h{h}-0.5" for h in range(1, 6) if h != 3]
    names += ["mobilenetv3-small-0.5", "mobilenetv3-small-1.0"]
    names += [f"micronet-{variant}" for variant in VARIANTS]
    return names


def config_for_name(name: str) -> AnyConfig:
    """The 1000-class, 3-channel configuration a registry name stands for."""
    flynet = _FLYNET.fullmatch(name)
    mobilenet = _MOBILENET.fullmatch(name)
    micronet = _MICRONET.fullmatch(name)
    if micronet:
        variant = micronet.group(1)
        if variant not in VARIANTS:
            raise FlynetError(f"unknown MicroNet variant {variant!r}: allowed {', '.join(VARIANTS)}")
        width = float(micronet.group(2) or 1.0)
        config: AnyConfig = MicroNetConfig(name=name, variant=variant, width=width,
                                           dropout=VARIANTS[variant].dropout)
    elif flynet:
        heads, width = int(flynet.group(1)), float(flynet.group(2))
        config = ModelConfig(name=name, width=width, heads=heads,
                             eca_gate="softmax" if heads > 1 else "sigmoid")
    elif mobilenet:
        width = float(mobilenet.group(1))
        # Published MobileNetV3-Small keeps the 1024-wide hidden layer below 1.0x.
        config = ModelConfig(name=name, width=width, heads=1, attention="se", eca_gate="sigmoid",
                             light_residuals=False, mdw_kernel=None, head_scales_with_width=width > 1.0)
    else:
        raise FlynetError(f"unknown model {name!r}: use flynet-h<1..5>-<0.25..1.0>, "
                          f"mobilenetv3-small-<0.25..1.0> or micronet-m<0..3>[-<0.25..2.0>], "
                          f"e.g. {', '.join(list_models()[:3])}")
    validate_config(config)
    return config


def validate_config(config: AnyConfig) -> None:
    """Raise FlynetError naming the allowed values for anything out of range."""
    if isinstance(config, MicroNetConfig):
        _validate_micronet(config)
    else:
        _validate_flynet(config)
    _validate_shared(config)


def _validate_micronet(config: MicroNetConfig) -> None:
    if config.variant not in VARIANTS:
        raise FlynetError(f"MicroNet variant {config.variant!r} unknown: allowed {', '.join(VARIANTS)}")
    lo, hi = MICRONET_WIDTH_RANGE
    if not lo <= config.width <= hi:
        raise FlynetError(f"width {config.width:g} out of range: allowed {lo:g}..{hi:g}")
    if config.family != "micronet":
        raise FlynetError(f"MicroNet config with family {config.family!r}: it must be 'micronet'")


def _validate_flynet(config: ModelConfig) -> None:
    lo, hi = HEADS_RANGE
    if not lo <= config.heads <= hi:
        raise FlynetError(f"heads {config.heads} out of range: allowed {lo}..{hi}")
    lo_w, hi_w = WIDTH_RANGE
    if not lo_w <= config.width <= hi_w:
        raise FlynetError(f"width {config.width:g} out of range: allowed {lo_w:g}..{hi_w:g}")
    if config.reduction not in REDUCTIONS:
        raise FlynetError(f"reduction {config.reduction!r} unknown: allowed {', '.join(REDUCTIONS)}")
    if config.attention not in ("eca", "se"):
        raise FlynetError(f"attention {config.attention!r} unknown: allowed eca, se")
    if config.eca_gate not in ("sigmoid", "softmax"):
        raise FlynetError(f"eca_gate {config.eca_gate!r} unknown: allowed sigmoid, softmax")
    if config.eca_gate == "softmax" and config.attention == "eca" and config.heads < 2:
        raise FlynetError("eca_gate 'softmax' needs heads >= 2: use eca_gate 'sigmoid' for 1 head")


def _validate_shared(config: AnyConfig) -> None:
    if config.in_channels not in IN_CHANNELS:
        raise FlynetError(f"in_channels {config.in_channels} not supported: allowed 1 or 3")
    if config.num_classes < 2:
        raise FlynetError(f"num_classes {config.num_classes} too small: need at least 2")
    if config.stem_stride not in STEM_STRIDES:
        raise FlynetError(f"stem_stride {config.stem_stride} not supported: allowed 1 or 2")
    if config.quant_noise_levels not in QUANT_NOISE_LEVELS:
        allowed = ", ".join(str(q) for q in QUANT_NOISE_LEVELS if q) + " or 0 (off)"
        raise FlynetError(f"quant_noise_levels {config.quant_noise_levels} not supported: allowed {allowed}")
    validate_input_size(config, config.input_size)


def validate_input_size(config: AnyConfig, input_size: int) -> None:
    stride = config.total_stride
    if input_size < stride or input_size % stride:
        hint = " (or stem_stride=1 to halve it)" if config.stem_stride == 2 else ""
        raise FlynetError(f"input size {input_size} cannot be down-sampled by this network (total stride "
                          f"{stride}): use a multiple of {stride}, smallest {stride}{hint}")


def build_model(name: str, num_classes: int = 1000, input_size: int = 224, in_channels: int = 3,
                **options: Any) -> AnyModel:
    """Build a registry model for `num_classes` classes and `in_channels`-channel
    `input_size` x `input_size` images; `options` override config fields (e.g. stem_stride=1)."""
    base = config_for_name(name)
    try:
        config = base.with_(num_classes=num_classes, in_channels=in_channels, input_size=input_size, **options)
    except TypeError as exc:  # an option the family's config has no field for
        raise FlynetError(f"{name}: {exc}; options are fields of {type(base).__name__}") from None
    validate_config(config)
    return _instantiate(config)


def build_model_from_config(data: dict[str, Any]) -> AnyModel:
    """Recreate a model from `model.config.to_dict()` (as stored in a checkpoint)."""
    config_class = MicroNetConfig if data.get("family") == "micronet" else ModelConfig
    try:
        config = config_class.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise FlynetError(f"bad model config: {exc}; rebuild the checkpoint with this flynet-tiny") from exc
    validate_config(config)
    return _instantiate(config)


def _instantiate(config: AnyConfig) -> AnyModel:
    return MicroNet(config) if isinstance(config, MicroNetConfig) else FlyNet(config)
