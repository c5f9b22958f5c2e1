"""Small models for the training tests (the trainer is model-agnostic)."""

import torch
from torch import nn


class TinyNet(nn.Module):
    """conv-BN-ReLU-pool-linear; records set_temperature / set_quant_noise calls like FlyNet receives them."""

    def __init__(self, in_channels: int = 1, num_classes: int = 4, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.classifier = nn.Linear(4 * width, num_classes)
        self.temperatures: list[float] = []
        self.quant_noise: bool | None = None

    def set_temperature(self, t: float) -> None:
        self.temperatures.append(t)

    def set_quant_noise(self, enabled: bool) -> None:
        self.quant_noise = enabled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def tiny_model(in_channels: int = 1, num_classes: int = 4, seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(in_channels, num_classes)
