"""Quantization-aware training: fine-tune the int8 simulation with straight-through gradients.

Choices (docs/quantization.md): BatchNorm is folded into the conv weights *before* QAT, so
the trained weights are exactly the deployed ones and no BN statistics drift; activation
qparams are calibrated once (minmax by default) and then frozen; weight scales follow the
weights (max |w| / 127 recomputed every step) and biases are rounded to the int32 grid, both
with straight-through gradients.
"""

from __future__ import annotations

import copy
import itertools
from typing import Iterable

import torch
from torch import nn

from .model import IMAGE_INPUT_QPARAMS, QuantizedModel, _inputs, build_quantized


def prepare_qat(model: nn.Module, example_input: torch.Tensor, calib_loader: Iterable, num_samples: int = 512,
                method: str = "minmax", input_qparams: tuple[float, int] | None = IMAGE_INPUT_QPARAMS,
                progress: bool = True) -> QuantizedModel:
    """A trainable fake-quant copy of `model` (BN folded, activations calibrated on `calib_loader`)."""
    qat_model = build_quantized(model, example_input, method, input_qparams)
    qat_model.calibrate(_inputs(calib_loader), num_samples, progress)
    for parameter in qat_model.parameters():
        parameter.requires_grad_(True)
    return qat_model.train()


def convert_qat(qat_model: QuantizedModel) -> QuantizedModel:
    """The trained model frozen for export: an eval-mode copy whose weights no longer require grad."""
    converted = copy.deepcopy(qat_model).eval()
    converted.set_quantize()
    for parameter in converted.parameters():
        parameter.requires_grad_(False)
    return converted


def qat_parameters(qat_model: QuantizedModel) -> Iterable[nn.Parameter]:
    """The trainable tensors (folded conv / FC weights and biases) for the optimizer."""
    return itertools.chain.from_iterable(layer.layer.parameters() for _, layer in qat_model.weighted_layers())
