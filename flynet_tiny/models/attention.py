"""Channel attention: MobileNetV3's squeeze-and-excite and FlyNet's variance-aware ECA (equations 2-3)."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """MobileNetV3 SE: pooled means -> 1x1 conv -> ReLU -> 1x1 conv -> hard-sigmoid -> scale."""

    def __init__(self, channels: int, squeeze_channels: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class VarianceECA(nn.Module):
    """s = [mu, sigma^2] * k (1-D conv over channels, 2 input channels, kernel z), then a gate.

    gate "sigmoid": every channel scaled by sigmoid(s) (feature-map mixer).
    gate "softmax": s reshaped to (C/h, h) and softmax(s / T) taken over the h heads of each
    MDW input channel (feature-map multiplexer); `temperature` is annealed by the trainer.
    """

    def __init__(self, channels: int, heads: int = 1, kernel_size: int = 7, gate: str = "sigmoid"):
        super().__init__()
        if gate not in ("sigmoid", "softmax"):
            raise ValueError(f"unknown ECA gate {gate!r}; allowed: sigmoid, softmax")
        if gate == "softmax" and heads < 2:
            raise ValueError("softmax ECA needs at least 2 MDW heads; use gate='sigmoid' for h=1")
        self.heads = heads
        self.gate_kind = gate
        self.temperature = 1.0
        self.conv = nn.Conv1d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.gate = nn.Sigmoid() if gate == "sigmoid" else nn.Softmax(dim=2)

    def set_temperature(self, temperature: float) -> None:
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        centered = x - mean
        variance = (centered * centered).mean(dim=(2, 3), keepdim=True)
        stats = torch.cat([mean, variance], dim=2).flatten(2).transpose(1, 2)  # (N, 2, C)
        scores = self.conv(stats).flatten(1)  # (N, C)
        if self.gate_kind == "softmax":
            grouped = scores.unflatten(1, (-1, self.heads))
            if self.temperature != 1.0:  # at T = 1 (annealing's end) no divide reaches the exported graph
                grouped = grouped / self.temperature
            weights = self.gate(grouped).flatten(1)
        else:
            weights = self.gate(scores)
        return x * weights.unsqueeze(2).unsqueeze(3)
