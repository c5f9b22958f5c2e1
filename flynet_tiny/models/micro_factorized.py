"""MicroNet's Micro-Factorized convolutions (paper section 3) as lowering-friendly modules.

- `GroupPointwise`: a 1x1 group convolution and its BN.  Two of them with a `GroupShuffle`
  between them are the paper's W = P Phi Q^T.
- `GroupShuffle`: the permutation Phi, in the "block" form that only the next group conv needs:
  each of its `groups_out` contiguous channel blocks takes an equal share of every one of the
  `groups_in` groups of the producing layer (maximum input coverage).  Written as reshape ->
  slices -> concatenation -> reshape over 4-D tensors, so it lowers to RESHAPE, STRIDED_SLICE and
  CONCATENATION (no TRANSPOSE) that TFLite Micro runs; docs/architecture.md has the lowering.
- `FactorizedDepthwise`: a k x k depthwise conv factorized into k x 1 then 1 x k, each with its own
  channel multiplier and BN.  Output channel order is PyTorch's grouped-conv order (TFLite
  DEPTHWISE_CONV_2D depth_multiplier order): channel c's heads are contiguous.
"""

from __future__ import annotations

import torch
from torch import nn


class GroupPointwise(nn.Sequential):
    """1x1 conv with `groups` groups, then BN (kept right after its conv so it folds)."""

    def __init__(self, in_channels: int, out_channels: int, groups: int):
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"group conv {in_channels} -> {out_channels} channels cannot use {groups} groups")
        super().__init__(nn.Conv2d(in_channels, out_channels, 1, bias=False, groups=groups),
                         nn.BatchNorm2d(out_channels))


def shuffle_chunks(per_group: int, groups_out: int) -> int:
    """How many slices of each input group the shuffle takes: the smallest divisor of `per_group`
    that is at least `groups_out`: a slice is then no longer than an output block, so every block
    touches every input group."""
    return next((d for d in range(groups_out, per_group + 1) if per_group % d == 0), per_group)


class GroupShuffle(nn.Module):
    """Reorder C channels made by `groups_in` groups so that each of the `groups_out` contiguous
    blocks a group conv reads holds channels of every input group.

    View the channels as (groups_in, per_group); cut the per_group axis into `chunks` slices and
    concatenate the slices: the result is ordered (slice, input group, position in slice).  With
    chunks == groups_out, output block j is slice j of every input group; chunks == per_group is
    ShuffleNet's channel shuffle.  The order inside a block is absorbed by the conv's weights.
    """

    def __init__(self, channels: int, groups_in: int, groups_out: int):
        super().__init__()
        if channels % groups_in:
            raise ValueError(f"{channels} channels do not split into {groups_in} groups")
        self.groups_in = groups_in
        self.per_group = channels // groups_in
        self.chunks = shuffle_chunks(self.per_group, groups_out)
        self.chunk = self.per_group // self.chunks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # H and W are merged first so that every tensor stays 4-D: TFLite Micro's STRIDED_SLICE takes
        # at most 4 dimensions. In NHWC the 4-D view is [N, H*W, groups_in, per_group].
        grouped = x.flatten(2).unflatten(1, (self.groups_in, self.per_group))  # (N, groups_in, per_group, H*W)
        slices = [grouped[:, :, i * self.chunk:(i + 1) * self.chunk] for i in range(self.chunks)]
        return torch.cat(slices, dim=1).flatten(1, 2).unflatten(2, x.shape[2:])


def shuffle_needed(channels: int, groups_in: int, groups_out: int) -> bool:
    """False where GroupShuffle would be the identity (one group on either side, or one slice)."""
    return groups_in > 1 and groups_out > 1 and shuffle_chunks(channels // groups_in, groups_out) > 1


class FactorizedDepthwise(nn.Sequential):
    """k x 1 depthwise (multiplier m1, stride along H) -> BN -> 1 x k depthwise (multiplier m2,
    stride along W) -> BN: C -> C*m1*m2 channels with 2k weights per output instead of k*k."""

    def __init__(self, channels: int, kernel_size: int, stride: int = 1, multipliers: tuple[int, int] = (1, 1)):
        m1, m2 = multipliers
        mid, out = channels * m1, channels * m1 * m2
        pad = kernel_size // 2
        super().__init__(
            nn.Conv2d(channels, mid, (kernel_size, 1), (stride, 1), (pad, 0), groups=channels, bias=False),
            nn.BatchNorm2d(mid),
            nn.Conv2d(mid, out, (1, kernel_size), (1, stride), (0, pad), groups=mid, bias=False),
            nn.BatchNorm2d(out),
        )
