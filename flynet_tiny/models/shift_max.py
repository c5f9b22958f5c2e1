"""Dynamic Shift-Max (MicroNet paper section 4, equation 4) from lowering-friendly ops.

y_i = max over k < K of ( a_k,i(x) * x_i + b_k,i(x) * x_(i + C/G) mod C )

J = 2: each channel is fused with the channel one group further on (a circular shift by C/G,
the channel in the same position of the next group).  K = 2 fusions are maxed; K = 1 is one
dynamic linear fusion (the released code uses it at block outputs, with no ReLU after it).

The 2*K*C coefficients come from a hyper-function, as in squeeze-and-excite: global average
pool -> FC -> ReLU -> FC -> hard-sigmoid, mapped to offset +- 2 (`COEFFICIENT_SPAN`), where the
offsets (a, b) per fusion set the activation's starting point.  Every op is a TFLite builtin or a
fixed channel shift: MEAN, FULLY_CONNECTED, the hard-sigmoid, MUL and ADD by constants,
SLICE + CONCATENATION (the shift), MUL, ADD, MAXIMUM.  docs/architecture.md has the plan.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import make_divisible

COEFFICIENT_SPAN = 4.0  # coefficients range over offset - 2 .. offset + 2


def squeeze_channels(channels: int, reduction: int) -> int:
    """Hidden width of the hyper-function: channels // reduction rounded to a multiple of 4, at least 4."""
    return make_divisible(channels // reduction, 4)


def shift_channels(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Circular shift along channels: output channel i is input channel (i + shift) mod C."""
    return torch.cat([x[:, shift:], x[:, :shift]], dim=1)


class DynamicShiftMax(nn.Module):
    # The paper's MAdd counts include applying the coefficients, O(HWCJK) (section 4); the profiler
    # counts one MAdd per output element of each tensor-by-tensor multiply in modules that say so.
    counts_elementwise_madds = True

    def __init__(self, channels: int, groups: int, fusions: int, reduction: int,
                 offsets: tuple[tuple[float, float], ...]):
        super().__init__()
        if channels % groups:
            raise ValueError(f"Shift-Max over {channels} channels cannot use {groups} groups")
        if len(offsets) != fusions:
            raise ValueError(f"{fusions} fusions need {fusions} (a, b) offsets, got {len(offsets)}")
        self.channels, self.fusions = channels, fusions
        self.shift = channels // groups
        squeeze = squeeze_channels(channels, reduction)
        self.fc1 = nn.Linear(channels, squeeze)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(squeeze, 2 * fusions * channels)
        self.gate = nn.Hardsigmoid()
        low = torch.tensor([v - COEFFICIENT_SPAN / 2 for pair in offsets for v in pair])
        # Constant, rebuilt from the config: kept out of state_dict.
        self.register_buffer("low", low.repeat_interleave(channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))
        coefficients = self.gate(self.fc2(self.relu(self.fc1(pooled)))) * COEFFICIENT_SPAN + self.low
        coefficients = coefficients.unsqueeze(2).unsqueeze(3)
        c = self.channels
        parts = [coefficients[:, i * c:(i + 1) * c] for i in range(2 * self.fusions)]  # a_0, b_0, a_1, b_1
        shifted = shift_channels(x, self.shift)
        out = x * parts[0] + shifted * parts[1]
        for k in range(1, self.fusions):
            out = torch.maximum(out, x * parts[2 * k] + shifted * parts[2 * k + 1])
        return out
