"""Small models for the training tests (the trainer is model-agnostic)."""

import torch
from torch import nn


class TinyNet(nn.Module):
    """conv-BN-ReLU-pool-linear; records the set_temperature calls FlyNet receives."""

    def __init__(self, in_channels: int = 1, num_classes: int = 4, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.classifier = nn.Linear(4 * width, num_classes)
        self.temperatures: list[float] = []

    def set_temperature(self, t: float) -> None:
        self.temperatures.append(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def tiny_model(in_channels: int = 1, num_classes: int = 4, seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(in_channels, num_classes)


def write_idx_dataset(root, n_train: int = 64, n_test: int = 32, size: int = 28, num_classes: int = 4,
                      max_label: int | None = None):
    """A synthetic dataset as IDX files (train + t10k); `max_label` overwrites one label to go out of range."""
    from flynet_tiny.data.datasets import synthetic_dataset, write_idx

    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        ds = synthetic_dataset(n, input_size=size, in_channels=1, num_classes=num_classes, seed=3, split=split)
        labels = ds.labels.numpy().astype("uint8")
        if max_label is not None:
            labels[0] = max_label
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", ds.images[:, 0].numpy())
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root
