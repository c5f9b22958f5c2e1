"""Calibration observers: from the values a tensor took on calibration data to a float range.

Every observer keeps the exact min / max and a bounded, deterministic sample of the values
(strided, so the same data gives the same range); `range()` turns them into (low, high).
  minmax     - the observed min and max.
  percentile - the 0.01th and 99.99th percentiles of the sampled values, per side.
  mse        - the clipping of [min, max] (shrunk by a common factor) whose int8 grid has
               the lowest quantization mean squared error on the sample.
"""

from __future__ import annotations

import torch

from ..errors import FlynetError
from .qparams import ACT_QMAX, ACT_QMIN, activation_qparams

METHODS = ("minmax", "percentile", "mse")
SAMPLE_LIMIT = 1 << 18
PERCENTILE = 99.99
# Candidate clip factors for the mse search, from the full range down to 30% of it.
MSE_CLIP_FACTORS = torch.linspace(1.0, 0.3, 71)


class Observer:
    """Accumulates the statistics of one quantization group across calibration batches."""

    def __init__(self, method: str):
        if method not in METHODS:
            raise FlynetError(f"unknown calibration method {method!r}; use one of {', '.join(METHODS)}")
        self.method = method
        self.low = float("inf")
        self.high = float("-inf")
        self._samples: list[torch.Tensor] = []
        self._sampled = 0

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().flatten().to(torch.float32)
        if x.numel() == 0:
            return
        self.low = min(self.low, float(x.min()))
        self.high = max(self.high, float(x.max()))
        if self.method == "minmax":
            return
        budget = SAMPLE_LIMIT - self._sampled
        if budget <= 0:
            return
        stride = max(1, -(-x.numel() // budget))
        sample = x[::stride][:budget].clone()
        self._samples.append(sample)
        self._sampled += sample.numel()

    @property
    def seen(self) -> bool:
        return self.low <= self.high

    def range(self) -> tuple[float, float]:
        if not self.seen:
            raise FlynetError("a tensor saw no calibration data; pass --calib-samples of at least 1")
        if self.method == "minmax" or not self._samples:
            return self.low, self.high
        values = torch.cat(self._samples)
        if self.method == "percentile":
            q = torch.tensor([100.0 - PERCENTILE, PERCENTILE], dtype=torch.float64) / 100.0
            low, high = torch.quantile(values.double(), q).tolist()
            return min(low, 0.0), max(high, 0.0)
        return _mse_range(values, self.low, self.high)


def _mse_range(values: torch.Tensor, low: float, high: float) -> tuple[float, float]:
    best, best_error = (low, high), float("inf")
    for factor in MSE_CLIP_FACTORS.tolist():
        candidate = (min(low, 0.0) * factor, max(high, 0.0) * factor)
        scale, zero_point = activation_qparams(*candidate)
        q = torch.clamp(torch.round(values / scale) + zero_point, ACT_QMIN, ACT_QMAX)
        error = float(torch.mean(((q - zero_point) * scale - values) ** 2))
        if error < best_error:
            best, best_error = candidate, error
    return best
