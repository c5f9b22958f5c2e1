"""MicroNet M0-M3 (Li et al., ICCV 2021, `../shared/reference/micronet-paper.txt`): the architecture is data.

`VARIANTS` holds each model's stem, block table and head as Table 1 gives them (read together
with the authors' released configuration where the text is garbled; docs/architecture.md says
how).  One `MicroBlock` class builds every row:

- "A" (lite combination): Micro-Factorized depthwise that expands channels (k x 1 then 1 x k, a
  channel multiplier of 2 each) -> act -> GroupShuffle -> group 1x1 conv that compresses -> act.
- "B" / "C" (regular combination): group 1x1 conv that expands by R -> act -> Micro-Factorized
  depthwise -> act -> GroupShuffle -> group 1x1 conv that compresses -> act.  B is the one block
  between the A and C stages; both have the same layers.
- "expand": the last group 1x1 conv, widening by R before the head.

A group conv fed by another group conv reads its input through a `GroupShuffle`.  Every
activation slot is ReLU6, dynamic Shift-Max (K = 2 or 1) or nothing; each Shift-Max fuses a
channel with the same channel of the next group of the layer that produced it.  A residual adds
the input where stride is 1 and the channel count is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .common import ConfigRecord, init_weights, make_divisible
from .micro_factorized import FactorizedDepthwise, GroupPointwise, GroupShuffle, shuffle_needed
from .quant_noise import QuantNoise
from .shift_max import DynamicShiftMax

RELU6 = "relu6"
SHIFTMAX2 = "shiftmax-k2"  # max of K = 2 dynamic fusions of J = 2 groups
SHIFTMAX1 = "shiftmax-k1"  # one dynamic fusion of J = 2 groups (linear in x)
OUTPUT_FUSION_OFFSETS = ((1.0, 0.0),)  # K = 1 starts as the identity: 1 * x + 0 * shifted


@dataclass(frozen=True)
class MicroBlockSpec:
    """One row of Table 1 at width 1.0."""

    kind: str  # "A", "B", "C" or "expand"
    kernel: int
    stride: int
    out_channels: int  # for "expand": in_channels * ratio
    groups: tuple[int, ...]  # group count of each 1x1 conv in the block, in order
    activations: tuple[str | None, ...]  # one per slot: after each conv stage
    reduction: int  # Shift-Max hyper-function: channels // reduction hidden units
    ratio: int = 1  # B, C, expand: hidden = in_channels * ratio
    multipliers: tuple[int, int] = (1, 1)  # A: channel multipliers of the k x 1 and 1 x k depthwise


def micro_a(kernel: int, stride: int, out: int, groups: int, acts: tuple, reduction: int = 8) -> MicroBlockSpec:
    return MicroBlockSpec("A", kernel, stride, out, (groups,), acts, reduction, multipliers=(2, 2))


def micro_bc(kind: str, kernel: int, stride: int, out: int, ratio: int, groups: tuple[int, int], acts: tuple,
             reduction: int) -> MicroBlockSpec:
    return MicroBlockSpec(kind, kernel, stride, out, groups, acts, reduction, ratio=ratio)


def expand(ratio: int, groups: int, act: str | None, reduction: int = 16) -> MicroBlockSpec:
    return MicroBlockSpec("expand", 1, 1, 0, (groups,), (act,), reduction, ratio=ratio)


@dataclass(frozen=True)
class MicroNetSpec:
    stem: tuple[int, int]  # (3 x 1 conv filters, 1 x 3 group conv multiplier): stem width = product
    blocks: tuple[MicroBlockSpec, ...]
    head: int  # hidden units of the first classifier layer
    shift_max_offsets: tuple[tuple[float, float], ...]  # (a, b) start of each K = 2 fusion
    dropout: float  # the paper's rate (section 6.1)


_DYN_A = (SHIFTMAX2, SHIFTMAX1)  # A: after the depthwise, after the group conv
_DYN_BC = (SHIFTMAX2, SHIFTMAX2, SHIFTMAX1)  # B / C: after each conv stage
_M3_A = (SHIFTMAX2, None)  # M3: one Shift-Max per block, after the depthwise
_M3_BC = (RELU6, SHIFTMAX2, None)

VARIANTS: dict[str, MicroNetSpec] = {
    "m0": MicroNetSpec(stem=(2, 2), head=640, dropout=0.05, shift_max_offsets=((1.0, 0.0), (1.0, 0.0)), blocks=(
        micro_a(3, 2, 8, 2, (RELU6, SHIFTMAX1)),
        micro_a(3, 2, 12, 4, _DYN_A),
        micro_a(5, 2, 16, 4, _DYN_A),
        micro_bc("B", 5, 1, 32, 4, (4, 4), _DYN_BC, 8),
        micro_bc("C", 5, 2, 64, 4, (8, 8), _DYN_BC, 8),
        micro_bc("C", 3, 1, 96, 4, (8, 8), _DYN_BC, 16),
        expand(4, 12, SHIFTMAX1),
    )),
    "m1": MicroNetSpec(stem=(3, 2), head=960, dropout=0.05, shift_max_offsets=((1.0, 0.0), (1.0, 0.0)), blocks=(
        micro_a(3, 2, 8, 2, (RELU6, SHIFTMAX1)),
        micro_a(3, 2, 16, 4, _DYN_A),
        micro_a(5, 2, 16, 4, _DYN_A),
        micro_bc("B", 5, 1, 32, 6, (4, 4), _DYN_BC, 8),
        micro_bc("C", 5, 2, 64, 6, (8, 8), _DYN_BC, 8),
        micro_bc("C", 3, 1, 96, 6, (8, 8), _DYN_BC, 16),
        expand(6, 12, SHIFTMAX1),
    )),
    "m2": MicroNetSpec(stem=(4, 2), head=1024, dropout=0.05, shift_max_offsets=((1.0, 0.0), (1.0, 0.0)), blocks=(
        micro_a(3, 2, 12, 4, (RELU6, SHIFTMAX1)),
        micro_a(3, 2, 16, 4, _DYN_A),
        micro_a(3, 1, 24, 4, _DYN_A),
        micro_bc("B", 5, 2, 32, 6, (6, 4), _DYN_BC, 8),
        micro_bc("C", 5, 1, 32, 6, (8, 4), _DYN_BC, 16),
        micro_bc("C", 5, 1, 64, 6, (8, 8), _DYN_BC, 16),
        micro_bc("C", 5, 2, 96, 6, (8, 8), _DYN_BC, 16),
        micro_bc("C", 3, 1, 128, 6, (12, 8), _DYN_BC, 16),
        expand(6, 16, SHIFTMAX1),
    )),
    "m3": MicroNetSpec(stem=(4, 3), head=1024, dropout=0.1, shift_max_offsets=((1.0, 0.0), (0.5, 0.5)), blocks=(
        micro_a(3, 2, 16, 4, _M3_A),
        micro_a(3, 2, 24, 4, _M3_A),
        micro_a(3, 1, 24, 4, _M3_A),
        micro_bc("B", 5, 2, 32, 6, (6, 4), _M3_BC, 8),
        micro_bc("C", 5, 1, 32, 6, (8, 4), _M3_BC, 16),
        micro_bc("C", 5, 1, 64, 6, (8, 8), _M3_BC, 16),
        micro_bc("C", 5, 1, 80, 6, (8, 8), _M3_BC, 16),
        micro_bc("C", 5, 1, 80, 6, (10, 8), _M3_BC, 16),
        micro_bc("C", 5, 2, 120, 6, (10, 10), _M3_BC, 16),
        micro_bc("C", 5, 1, 120, 6, (12, 10), _M3_BC, 16),
        micro_bc("C", 3, 1, 144, 6, (12, 12), _M3_BC, 16),
        expand(6, 12, None),
    )),
}


@dataclass(frozen=True)
class MicroNetConfig(ConfigRecord):
    """Everything needed to rebuild a MicroNet; stored in checkpoints (`family` tells the registry)."""

    name: str
    variant: str = "m1"
    width: float = 1.0  # scales every channel count (groups stay as in the table)
    num_classes: int = 1000
    in_channels: int = 3
    input_size: int = 224
    stem_stride: int = 2
    quant_noise_levels: int = 0  # 0: Dropout before the last layer, else q-level quantization noise
    dropout: float = 0.05
    family: str = "micronet"

    @property
    def spec(self) -> MicroNetSpec:
        return VARIANTS[self.variant]

    @property
    def total_stride(self) -> int:
        return self.stem_stride * 2 ** sum(1 for b in self.spec.blocks if b.stride == 2)


@dataclass(frozen=True)
class MicroBlockConfig:
    """A block after width scaling, with the group structure of its input."""

    kind: str
    kernel: int
    stride: int
    in_channels: int
    hidden: int
    out_channels: int
    in_groups: int  # groups of the layer that produced the input (for the input GroupShuffle)
    groups: tuple[int, ...]
    activations: tuple[str | None, ...]
    reduction: int
    multipliers: tuple[int, int]
    shift_max_offsets: tuple[tuple[float, float], ...]

    @property
    def out_groups(self) -> int:
        return self.groups[-1]


def _first_groups(spec: MicroBlockSpec) -> int:
    """Groups of the block's first channel-mixing conv (1 for A, whose depthwise comes first)."""
    return 1 if spec.kind == "A" else spec.groups[0]


def stem_widths(config: MicroNetConfig) -> tuple[int, int]:
    filters, multiplier = config.spec.stem
    return max(1, int(filters * config.width + 0.5)), multiplier


def block_configs(config: MicroNetConfig) -> list[MicroBlockConfig]:
    """Scale the variant's table by `width`.  A block's output is rounded to the nearest multiple of
    its own groups and the next block's first groups (steps up to 60 channels, where make_divisible's
    never-10%-down rule would double a width), so at width 1.0 the table comes back unchanged."""
    spec = config.spec
    filters, multiplier = stem_widths(config)
    in_channels, in_groups = filters * multiplier, filters
    blocks = []
    for i, row in enumerate(spec.blocks):
        if row.kind == "expand":
            hidden = out = in_channels * row.ratio
        else:
            following = spec.blocks[i + 1] if i + 1 < len(spec.blocks) else None
            step = math.lcm(row.groups[-1], _first_groups(following) if following else 1)
            out = max(step, int(row.out_channels * config.width / step + 0.5) * step)
            hidden = in_channels * (math.prod(row.multipliers) if row.kind == "A" else row.ratio)
        blocks.append(MicroBlockConfig(
            kind=row.kind, kernel=row.kernel, stride=row.stride, in_channels=in_channels, hidden=hidden,
            out_channels=out, in_groups=in_groups, groups=row.groups, activations=row.activations,
            reduction=row.reduction, multipliers=row.multipliers, shift_max_offsets=spec.shift_max_offsets))
        in_channels, in_groups = out, row.groups[-1]
    return blocks


def _activation(kind: str | None, channels: int, groups: int, reduction: int,
                offsets: tuple[tuple[float, float], ...]) -> list[nn.Module]:
    if kind is None:
        return []
    if kind == RELU6:
        return [nn.ReLU6()]
    if kind == SHIFTMAX2:
        return [DynamicShiftMax(channels, groups, 2, reduction, offsets)]
    if kind == SHIFTMAX1:
        return [DynamicShiftMax(channels, groups, 1, reduction, OUTPUT_FUSION_OFFSETS)]
    raise ValueError(f"unknown MicroNet activation {kind!r}; allowed: {RELU6}, {SHIFTMAX2}, {SHIFTMAX1}, None")


def _input_shuffle(cfg: MicroBlockConfig) -> list[nn.Module]:
    first = cfg.groups[0]
    if shuffle_needed(cfg.in_channels, cfg.in_groups, first):
        return [GroupShuffle(cfg.in_channels, cfg.in_groups, first)]
    return []


def _block_layers(cfg: MicroBlockConfig) -> list[nn.Module]:
    def act(slot: int, channels: int, groups: int, reduction: int) -> list[nn.Module]:
        return _activation(cfg.activations[slot], channels, groups, reduction, cfg.shift_max_offsets)

    # The block-output Shift-Max of a block that narrows uses half the reduction (released code).
    out_reduction = cfg.reduction // 2 if cfg.out_channels < cfg.hidden else cfg.reduction
    if cfg.kind == "A":
        (groups,) = cfg.groups
        # Depthwise "groups" are the input channels: a shift by one group moves to the next input channel.
        return [FactorizedDepthwise(cfg.in_channels, cfg.kernel, cfg.stride, cfg.multipliers),
                *act(0, cfg.hidden, cfg.in_channels, cfg.reduction),
                GroupShuffle(cfg.hidden, cfg.in_channels, groups),
                GroupPointwise(cfg.hidden, cfg.out_channels, groups),
                *act(1, cfg.out_channels, groups, out_reduction)]
    if cfg.kind == "expand":
        (groups,) = cfg.groups
        return [*_input_shuffle(cfg), GroupPointwise(cfg.in_channels, cfg.out_channels, groups),
                *act(0, cfg.out_channels, groups, cfg.reduction)]
    first, second = cfg.groups
    layers = [*_input_shuffle(cfg), GroupPointwise(cfg.in_channels, cfg.hidden, first),
              *act(0, cfg.hidden, first, cfg.reduction),
              FactorizedDepthwise(cfg.hidden, cfg.kernel, cfg.stride),
              *act(1, cfg.hidden, first, cfg.reduction)]
    if shuffle_needed(cfg.hidden, first, second):
        layers.append(GroupShuffle(cfg.hidden, first, second))
    return [*layers, GroupPointwise(cfg.hidden, cfg.out_channels, second),
            *act(2, cfg.out_channels, second, out_reduction)]


class MicroBlock(nn.Module):
    def __init__(self, cfg: MicroBlockConfig):
        super().__init__()
        self.body = nn.Sequential(*_block_layers(cfg))
        self.residual = cfg.stride == 1 and cfg.in_channels == cfg.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


class MicroStem(nn.Sequential):
    """3 x 1 conv (stride along H) -> BN -> 1 x 3 group conv, one group per filter (a depthwise conv
    with a channel multiplier; stride along W) -> BN -> ReLU6."""

    def __init__(self, in_channels: int, filters: int, multiplier: int, stride: int):
        super().__init__(
            nn.Conv2d(in_channels, filters, (3, 1), (stride, 1), (1, 0), bias=False),
            nn.BatchNorm2d(filters),
            nn.Conv2d(filters, filters * multiplier, (1, 3), (1, stride), (0, 1), groups=filters, bias=False),
            nn.BatchNorm2d(filters * multiplier),
            nn.ReLU6(),
        )


class MicroNet(nn.Module):
    """`features`: stem and Micro-Blocks.  `classifier`: ReLU6, global average pool, hard-swish,
    Linear-BN-hard-swish, Dropout (or quantization noise), Linear-BN-hard-swish (the released code's head)."""

    def __init__(self, config: MicroNetConfig):
        super().__init__()
        self.config = config
        filters, multiplier = stem_widths(config)
        blocks = block_configs(config)
        self.features = nn.Sequential(MicroStem(config.in_channels, filters, multiplier, config.stem_stride),
                                      *(MicroBlock(b) for b in blocks))
        last = blocks[-1].out_channels
        hidden = make_divisible(config.spec.head * config.width)
        regularizer = QuantNoise(config.quant_noise_levels) if config.quant_noise_levels \
            else nn.Dropout(config.dropout)
        self.classifier = nn.Sequential(
            nn.ReLU6(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
            nn.Hardswish(),
            nn.Linear(last, hidden),
            nn.BatchNorm1d(hidden),
            nn.Hardswish(),
            regularizer,
            nn.Linear(hidden, config.num_classes),
            nn.BatchNorm1d(config.num_classes),
            nn.Hardswish(),
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
