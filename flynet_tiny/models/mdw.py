"""Multihead-depthwise convolution (paper section 3.2) and the ways to reduce its heads.

MDW = nn.Conv2d(C, C*h, k, groups=C): output channel c*h + j is head j of input channel c,
the same order as TFLite DEPTHWISE_CONV_2D with depth_multiplier h.
"""

from __future__ import annotations

import torch
from torch import nn


class MultiheadDepthwise(nn.Module):
    """Each input channel convolved with `heads` filters, then BatchNorm over the C*h outputs."""

    def __init__(self, channels: int, heads: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.heads = heads
        self.conv = nn.Conv2d(channels, channels * heads, kernel_size, stride, kernel_size // 2,
                              groups=channels, bias=False)
        # BN right after its conv so it can be folded into the conv downstream.
        self.bn = nn.BatchNorm2d(channels * heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, C*h, H, W) -> (N, C, h, H, W) without copying."""
    return x.unflatten(1, (-1, heads))


class MaxOut(nn.Module):
    """Max over the heads of each input channel: parameter-free, no MAdds (the paper's default)."""

    def __init__(self, heads: int):
        super().__init__()
        self.heads = heads

    def forward(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        return split_heads(x, self.heads).amax(dim=2)


class SumReLU(nn.Module):
    """Ablation: sum the heads of each channel, then ReLU."""

    def __init__(self, heads: int):
        super().__init__()
        self.heads = heads
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        return self.relu(split_heads(x, self.heads).sum(dim=2))


class FunnelMaxOut(nn.Module):
    """Ablation: max over [A, F_pre], the MDW input channel competing with its own heads."""

    def __init__(self, heads: int, stride: int):
        super().__init__()
        self.heads = heads
        # Picks the input pixel a stride-s conv centres on, so A lines up with the heads.
        self.subsample = nn.MaxPool2d(kernel_size=1, stride=stride)

    def forward(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        candidates = torch.cat([self.subsample(source).unsqueeze(2), split_heads(x, self.heads)], dim=2)
        return candidates.amax(dim=2)


REDUCTIONS = ("maxout", "sum_relu", "funnel_maxout")


def make_reduction(kind: str, heads: int, stride: int) -> nn.Module:
    if kind == "maxout":
        return MaxOut(heads)
    if kind == "sum_relu":
        return SumReLU(heads)
    if kind == "funnel_maxout":
        return FunnelMaxOut(heads, stride)
    raise ValueError(f"unknown head reduction {kind!r}; allowed: {', '.join(REDUCTIONS)}")
