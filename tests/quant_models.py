"""Small models built from the layer kinds FlyNet uses, for the quantization tests."""

from __future__ import annotations

import torch
from torch import nn

from flynet_tiny.models import SqueezeExcite
from sample_data import fashion_mnist


class MaxOutHeads(nn.Module):
    """Multihead depthwise output (C * heads channels) reduced by a max over the heads."""

    def __init__(self, heads: int):
        super().__init__()
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.reshape(b, c // self.heads, self.heads, h, w).amax(dim=2)


class VarianceAttention(nn.Module):
    """ECA over [mean, variance] per channel: conv1d across channels, sigmoid gate, multiply."""

    def __init__(self, kernel: int = 7):
        super().__init__()
        self.conv = nn.Conv1d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3))
        var = x.var(dim=(2, 3), unbiased=False)
        stats = torch.cat([mean.unsqueeze(1), var.unsqueeze(1)], dim=1)
        gate = torch.sigmoid(self.conv(stats))
        return x * gate.reshape(x.shape[0], -1, 1, 1)


class TinyFlyNet(nn.Module):
    """Conv-BN-ReLU stem, MDW + BN + max-out, variance ECA, light residual (crop + concat),
    hard-swish, SE, pooling and a linear classifier: every quantization rule in one graph."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, heads: int = 2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 8, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU6())
        self.mdw = nn.Conv2d(8, 8 * heads, 3, padding=1, groups=8, bias=False)
        self.mdw_bn = nn.BatchNorm2d(8 * heads)
        self.maxout = MaxOutHeads(heads)
        self.eca = VarianceAttention()
        self.project = nn.Sequential(nn.Conv2d(12, 12, 1, bias=False), nn.BatchNorm2d(12), nn.Hardswish())
        self.se = SqueezeExcite(12, 4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(12, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.eca(self.maxout(self.mdw_bn(self.mdw(x))))
        x = torch.cat([y, x[:, :4]], dim=1)  # light residual: a crop of the block input
        x = self.se(self.project(x))
        x = torch.flatten(self.pool(x), 1)
        return self.classifier(self.dropout(x))


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN non-trivial statistics and affine terms, so folding has real work to do."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
            module.running_var.copy_(torch.rand(n, generator=gen) * 2 + 0.1)
            module.weight.data.copy_(torch.randn(n, generator=gen) * 0.5 + 1)
            module.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
    return model.eval()


def fashion_images(count: int, split: str = "test", input_size: int = 32, offset: int = 0) -> torch.Tensor:
    """`count` normalized real images (the bundled samples), (count, 1, input_size, input_size)."""
    from flynet_tiny.data.datasets import normalize

    return normalize(fashion_mnist(split, input_size).images[offset:offset + count])


def registry_flynet(name: str = "flynet-h3-0.25", seed: int = 0) -> nn.Module:
    """A small registry FlyNet (10 classes, 1x32x32) with non-trivial BN statistics."""
    from flynet_tiny.models import build_model

    torch.manual_seed(seed)
    return randomize_batchnorm(build_model(name, num_classes=10, input_size=32, in_channels=1), seed)
