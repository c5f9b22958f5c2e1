"""TFLite int8 quantization parameters: how a float range becomes (scale, zero point).

Activations: asymmetric per tensor over [-128, 127], the range first widened to contain 0
and the zero point rounded to an integer so that real 0 is exactly representable.
Weights: symmetric over [-127, 127], zero point 0 (conv: per output channel, FC: per tensor).
Bias: int32, zero point 0, scale = input scale x weight scale.
"""

from __future__ import annotations

import torch

ACT_QMIN, ACT_QMAX = -128, 127
WEIGHT_QMAX = 127
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
# Scales below this make TFLite's requantization multipliers underflow; a tensor that is
# (almost) constant zero loses nothing by using it.
MIN_SCALE = 1e-8
# LOGISTIC and SOFTMAX outputs in TFLite int8 are fixed to this grid.
PROBABILITY_QPARAMS = (1.0 / 256.0, -128)


def activation_qparams(low: float, high: float) -> tuple[float, int]:
    """(scale, zero_point) for an int8 tensor covering [low, high], zero exactly representable."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = max((high - low) / (ACT_QMAX - ACT_QMIN), MIN_SCALE)
    scale = float(torch.tensor(scale, dtype=torch.float32))  # the value the int8 model stores
    zero_point = int(round(ACT_QMIN - low / scale))
    return scale, max(ACT_QMIN, min(ACT_QMAX, zero_point))


def weight_scales(weight: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """Symmetric scales max|w| / 127, one per output channel (dim 0) or a 0-d tensor."""
    w = weight.detach()
    amax = w.abs().flatten(1).amax(dim=1) if per_channel else w.abs().max()
    return torch.clamp(amax / WEIGHT_QMAX, min=MIN_SCALE).to(torch.float32)


def constant_qparams(value: torch.Tensor) -> tuple[float, int]:
    """Symmetric per-tensor (scale, 0) for a constant operand: its largest magnitude maps to 127."""
    amax = float(value.detach().abs().max()) if value.numel() else 0.0
    scale = amax / WEIGHT_QMAX if amax > 0 else 1.0
    return float(torch.tensor(scale, dtype=torch.float32)), 0


def quantize_to_int(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | int,
                    qmin: int, qmax: int, axis: int | None = None) -> torch.Tensor:
    """The integers a fake quantizer puts on the grid: clamp(round(x * (1 / scale)) + zp), as int64.

    The float32 arithmetic (reciprocal then multiply, round half to even) is the one
    PyTorch's fake_quantize and the ONNX export use, so the integers agree bit for bit.
    """
    scale = torch.as_tensor(scale, dtype=torch.float32)
    zero_point = torch.as_tensor(zero_point, dtype=torch.int64)
    if axis is not None and scale.ndim == 1:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale, zero_point = scale.view(shape), zero_point.view(shape)
    q = torch.round(x.detach().to(torch.float32) * (1.0 / scale)).to(torch.int64) + zero_point
    return q.clamp(qmin, qmax)
