"""FlyNet and MobileNetV3-Small from one description: the architecture is data.

`BASE_BLOCKS` is MobileNetV3-Small's published table; a `ModelConfig` says which FlyNet
contributions are on.  `FlyNet` turns the two into modules: a `features` backbone (stem and
bottleneck blocks) and a `classifier` head (last 1x1 conv, pooling, two linear layers).
See docs/architecture.md for how the FlyNet table was recovered from the paper's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .attention import SqueezeExcite, VarianceECA
from .common import ConfigRecord, init_weights, make_divisible
from .mdw import MultiheadDepthwise, make_reduction
from .quant_noise import QuantNoise
from .residual import LightResidual


@dataclass(frozen=True)
class BlockSpec:
    """One MobileNetV3-Small bottleneck at width 1.0: channels, depthwise kernel, SE, activation."""

    in_channels: int
    kernel: int
    expanded: int
    out_channels: int
    attention: bool
    activation: str  # "RE" (ReLU) or "HS" (hard-swish)
    stride: int


BASE_BLOCKS = (
    BlockSpec(16, 3, 16, 16, True, "RE", 2),
    BlockSpec(16, 3, 72, 24, False, "RE", 2),
    BlockSpec(24, 3, 88, 24, False, "RE", 1),
    BlockSpec(24, 5, 96, 40, True, "HS", 2),
    BlockSpec(40, 5, 240, 40, True, "HS", 1),
    BlockSpec(40, 5, 240, 40, True, "HS", 1),
    BlockSpec(40, 5, 120, 48, True, "HS", 1),
    BlockSpec(48, 5, 144, 48, True, "HS", 1),
    BlockSpec(48, 5, 288, 96, True, "HS", 2),
    BlockSpec(96, 5, 576, 96, True, "HS", 1),
    BlockSpec(96, 5, 576, 96, True, "HS", 1),
)
STEM_CHANNELS = 16
LAST_CONV_CHANNELS = 576
HIDDEN_CHANNELS = 1024


@dataclass(frozen=True)
class ModelConfig(ConfigRecord):
    """Everything needed to rebuild a model; stored in checkpoints."""

    name: str
    width: float = 0.5
    heads: int = 3
    num_classes: int = 1000
    in_channels: int = 3
    input_size: int = 224  # square input the model is built for (checked against the total stride)
    stem_stride: int = 2
    attention: str = "eca"  # "eca" (variance-aware ECA) or "se" (MobileNetV3 squeeze-excite)
    eca_gate: str = "softmax"  # "softmax" over MDW heads or "sigmoid"
    eca_kernel: int = 7
    reduction: str = "maxout"  # "maxout", "sum_relu", "funnel_maxout"
    light_residuals: bool = True  # dense light residuals on low- and high-dim representations
    mdw_kernel: int | None = 5  # None keeps MobileNetV3's per-block 3x3 / 5x5
    head_scales_with_width: bool = True  # False: hidden layer stays 1024 (published MobileNetV3 < 1.0x)
    quant_noise_levels: int = 0  # 0: Dropout before the classifier, else q-level quantization noise
    dropout: float = 0.2

    @property
    def total_stride(self) -> int:
        return self.stem_stride * 2 ** sum(1 for b in BASE_BLOCKS if b.stride == 2)


def _activation(kind: str) -> nn.Module:
    return nn.ReLU() if kind == "RE" else nn.Hardswish()


class ConvBNAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, activation: str | None):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if activation is not None:
            layers.append(_activation(activation))
        super().__init__(*layers)


@dataclass(frozen=True)
class BlockConfig:
    """A bottleneck after width scaling, with the FlyNet options that apply to it."""

    in_channels: int
    kernel: int  # MDW kernel, also used by the high-dim shortcut's down-sampling
    expanded: int
    out_channels: int
    activation: str
    stride: int
    heads: int
    attention: str | None  # None, "se", "eca"
    eca_gate: str
    eca_kernel: int
    reduction: str
    light_residuals: bool


class Bottleneck(nn.Module):
    """expand 1x1 -> MDW (h heads) -> act -> attention -> head reduction -> [+ high-dim shortcut]
    -> project 1x1 -> [+ low-dim shortcut].  With h=1, SE and no light residuals: MobileNetV3."""

    def __init__(self, cfg: BlockConfig):
        super().__init__()
        self.expand = (
            ConvBNAct(cfg.in_channels, cfg.expanded, 1, 1, cfg.activation)
            if cfg.expanded != cfg.in_channels else nn.Identity()
        )
        self.mdw = MultiheadDepthwise(cfg.expanded, cfg.heads, cfg.kernel, cfg.stride)
        self.act = _activation(cfg.activation)
        if cfg.attention == "se":
            channels = cfg.expanded * cfg.heads
            self.attention: nn.Module = SqueezeExcite(channels, make_divisible(channels // 4))
        elif cfg.attention == "eca":
            self.attention = VarianceECA(cfg.expanded * cfg.heads, cfg.heads, cfg.eca_kernel, cfg.eca_gate)
        else:
            self.attention = nn.Identity()
        # Max-out over a single head is the identity: leave it out of the graph.
        self.reduce = make_reduction(cfg.reduction, cfg.heads, cfg.stride) \
            if cfg.heads > 1 or cfg.reduction != "maxout" else None
        # High-dim shortcut (expanded -> after MDW): identity, or a depthwise conv when strided.
        self.high_shortcut = LightResidual(cfg.expanded, cfg.expanded, cfg.stride, cfg.kernel) \
            if cfg.light_residuals else None
        self.project = ConvBNAct(cfg.expanded, cfg.out_channels, 1, 1, None)
        if cfg.light_residuals:
            self.low_shortcut: nn.Module | None = LightResidual(cfg.in_channels, cfg.out_channels, cfg.stride, 3)
        elif cfg.stride == 1 and cfg.in_channels == cfg.out_channels:
            self.low_shortcut = nn.Identity()  # MobileNetV3's own residual
        else:
            self.low_shortcut = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expanded = self.expand(x)
        y = self.attention(self.act(self.mdw(expanded)))
        if self.reduce is not None:
            y = self.reduce(y, expanded)
        if self.high_shortcut is not None:
            y = y + self.high_shortcut(expanded)
        out = self.project(y)
        if self.low_shortcut is not None:
            out = out + self.low_shortcut(x)
        return out


def block_configs(config: ModelConfig) -> list[BlockConfig]:
    """Scale MobileNetV3-Small's table by the width multiplier and attach the FlyNet options."""
    blocks = []
    in_channels = make_divisible(STEM_CHANNELS * config.width)
    for spec in BASE_BLOCKS:
        blocks.append(BlockConfig(
            in_channels=in_channels,
            kernel=config.mdw_kernel or spec.kernel,
            expanded=make_divisible(spec.expanded * config.width),
            out_channels=make_divisible(spec.out_channels * config.width),
            activation=spec.activation,
            stride=spec.stride,
            heads=config.heads,
            attention=config.attention if spec.attention or config.attention == "eca" else None,
            eca_gate=config.eca_gate,
            eca_kernel=config.eca_kernel,
            reduction=config.reduction,
            light_residuals=config.light_residuals,
        ))
        in_channels = blocks[-1].out_channels
    return blocks


class FlyNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        blocks = block_configs(config)
        stem = ConvBNAct(config.in_channels, blocks[0].in_channels, 3, config.stem_stride, "HS")
        self.features = nn.Sequential(stem, *(Bottleneck(b) for b in blocks))
        last = make_divisible(LAST_CONV_CHANNELS * config.width)
        hidden = make_divisible(HIDDEN_CHANNELS * config.width) if config.head_scales_with_width \
            else HIDDEN_CHANNELS
        regularizer = QuantNoise(config.quant_noise_levels) if config.quant_noise_levels \
            else nn.Dropout(config.dropout)
        self.classifier = nn.Sequential(
            ConvBNAct(blocks[-1].out_channels, last, 1, 1, "HS"),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
            nn.Linear(last, hidden),
            nn.Hardswish(),
            regularizer,
            nn.Linear(hidden, config.num_classes),
        )
        init_weights(self)

    def set_temperature(self, temperature: float) -> None:
        """Softmax-ECA temperature for annealing (10 -> 1 in the paper); no-op without softmax ECA."""
        for m in self.modules():
            if isinstance(m, VarianceECA):
                m.set_temperature(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
