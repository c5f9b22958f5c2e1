"""Quantization noise as a regularizer (section 3.3): a drop-in for Dropout.

Training: x is rescaled to [0, 1] by its own min and max (adaptive, no clipping), rounded to
q uniform levels (step 1 / (q - 1), equation 5) and scaled back; the gradient passes straight
through.  Evaluation: identity.
"""

from __future__ import annotations

import torch
from torch import nn

QUANT_NOISE_LEVELS = (0, 4, 6, 8, 16)  # 0 = off


class QuantNoise(nn.Module):
    def __init__(self, levels: int):
        super().__init__()
        if levels < 2:
            raise ValueError(f"quantization noise needs at least 2 levels, got {levels}")
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        low = x.detach().amin()
        span = (x.detach().amax() - low).clamp_min(1e-12)
        steps = self.levels - 1
        quantized = torch.round((x.detach() - low) / span * steps) / steps * span + low
        # Exactly the quantized values forward, the identity's gradient backward.
        return quantized + (x - x.detach())
