"""Dense light residuals (equation 4): a shortcut for any channel count and stride, almost free.

m == n: identity.  m > n: keep the first n channels.  m < n: [A, MDW(A)], the multihead
depthwise conv filling only the n - m missing channels.  A stride > 1 is done by a depthwise
conv on the kept channels.  Every choice is made here, at construction time.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LightResidual(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        kept = min(in_channels, out_channels)
        self.kept = kept
        pad = kernel_size // 2
        # Linear maps on the shortcut: no BN, no bias, nothing to fold.
        self.downsample = (
            nn.Conv2d(kept, kept, kernel_size, stride, pad, groups=kept, bias=False) if stride > 1 else None
        )
        missing = out_channels - in_channels
        if missing > 0:
            heads = math.ceil(missing / in_channels)
            self.fill_sources = math.ceil(missing / heads)
            self.fill_channels = missing
            self.crop_fill = self.fill_sources * heads != missing
            self.fill = nn.Conv2d(self.fill_sources, self.fill_sources * heads, kernel_size, stride, pad,
                                  groups=self.fill_sources, bias=False)
        else:
            self.fill = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = x[:, : self.kept] if self.kept < self.in_channels else x
        if self.downsample is not None:
            kept = self.downsample(kept)
        if self.fill is None:
            return kept
        filled = self.fill(x[:, : self.fill_sources] if self.fill_sources < self.in_channels else x)
        if self.crop_fill:
            filled = filled[:, : self.fill_channels]
        return torch.cat([kept, filled], dim=1)
