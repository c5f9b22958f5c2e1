"""QuantizedModel: the fake-quant graph plus its qparams; PTQ calibration builds one."""

from __future__ import annotations

import copy
import itertools
from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
from torch import nn

from ..errors import FlynetError
from ..reporting import progress_bar
from .fold import fold_batchnorm
from .graph import QuantGraph, build_quant_graph
from .modules import FLOAT, OBSERVE, QUANTIZE, ActFakeQuant, QuantConstant, QuantWeighted
from .observers import Observer
from .qparams import activation_qparams

# The data stage feeds x = (pixel - 128) / 128, so the int8 input is pixel - 128 exactly.
IMAGE_INPUT_QPARAMS = (1.0 / 128.0, 0)


class QuantizedModel(nn.Module):
    """A BN-folded model whose every int8 tensor is fake-quantized (TFLite int8 semantics).

    `forward` runs the int8 simulation (or the folded float model inside `float_mode()`);
    `qparams()` lists every quantized tensor and weight with its scale and zero point.
    """

    def __init__(self, quant_graph: QuantGraph, method: str, config: object = None,
                 input_qparams: tuple[float, int] | None = None, temperature: float | None = None):
        super().__init__()
        self.graph_module = quant_graph.graph_module
        self.fixed_qparams = quant_graph.fixed_qparams
        self.group_of = quant_graph.group_of
        self.producer_of = quant_graph.producer_of
        self.method = method
        self.config = config
        self.input_shape = tuple(quant_graph.input_shape)
        # How the graph was built, so a quantized file can rebuild it (quant/io.py): the fixed input grid
        # (None: observed) and the softmax-ECA temperature traced into it (None: the model has none).
        self.input_qparams = input_qparams
        self.temperature = temperature
        self._set_mode(FLOAT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if getattr(self, "_integer", False):
            from .integer import integer_forward

            return integer_forward(self, x)
        return self.graph_module(x)

    # ---------------------------------------------------------------- modes
    def activation_quantizers(self) -> Iterator[tuple[str, ActFakeQuant]]:
        for name, module in self.graph_module.named_modules():
            if isinstance(module, ActFakeQuant):
                yield name, module

    def weighted_layers(self) -> Iterator[tuple[str, QuantWeighted]]:
        for name, module in self.graph_module.named_modules():
            if isinstance(module, QuantWeighted):
                yield name, module

    def _set_mode(self, mode: str) -> None:
        for _, module in self.activation_quantizers():
            module.mode = mode
        for module in self.graph_module.modules():
            if isinstance(module, (QuantWeighted, QuantConstant)):
                module.quantize = mode == QUANTIZE

    @contextmanager
    def float_mode(self) -> Iterator["QuantizedModel"]:
        """Run the BN-folded float model (no fake quantization) inside this block."""
        self._set_mode(FLOAT)
        try:
            yield self
        finally:
            self._set_mode(QUANTIZE)

    @contextmanager
    def integer_mode(self) -> Iterator["QuantizedModel"]:
        """Inside this block `forward` computes TFLite Micro's integer arithmetic (quant/integer.py) on
        the same graph and qparams: bit-exact with TFLM, for evaluation (no gradients)."""
        self._integer = True
        try:
            yield self
        finally:
            self._integer = False

    def float_copy(self) -> "QuantizedModel":
        """A copy that stays the BN-folded float model (fake quantization off), e.g. for float ONNX export."""
        copied = copy.deepcopy(self).eval()
        copied._set_mode(FLOAT)
        return copied

    # ---------------------------------------------------------------- calibration
    def calibrate(self, batches: Iterable[torch.Tensor], num_samples: int, progress: bool = True) -> int:
        """Observe activations on float forward passes over up to `num_samples` images, then set qparams."""
        if num_samples < 1:
            raise FlynetError(f"--calib-samples must be at least 1, got {num_samples}")
        observers = {root: Observer(self.method) for root, fixed in self.fixed_qparams.items() if fixed is None}
        for _, module in self.activation_quantizers():
            module.observer = observers.get(module.group)
        self._set_mode(OBSERVE)
        seen = 0
        try:
            with torch.no_grad(), progress_bar(num_samples, f"calibrating ({self.method})", progress, "img") as bar:
                for x in batches:
                    x = x[: num_samples - seen]
                    self.graph_module(x)
                    seen += len(x)
                    bar.update(len(x))
                    if seen >= num_samples:
                        break
        finally:
            for _, module in self.activation_quantizers():
                module.observer = None
        if seen == 0:
            raise FlynetError("the calibration data is empty; pass a --data path with training images")
        # percentile and mse search each tensor's sample (mse: 71 candidate clippings): minutes for a whole model.
        searched = self.method != "minmax"
        with progress_bar(len(observers), f"choosing int8 ranges ({self.method})", progress and searched,
                          "tensor") as bar:
            ranges = {}
            for root, observer in observers.items():
                ranges[root] = activation_qparams(*observer.range())
                bar.update(1)
        qparams = {root: fixed if fixed is not None else ranges[root] for root, fixed in self.fixed_qparams.items()}
        for _, module in self.activation_quantizers():
            module.set_qparams(*qparams[module.group])
        self._set_mode(QUANTIZE)
        return seen

    def set_quantize(self) -> None:
        self._set_mode(QUANTIZE)

    # ---------------------------------------------------------------- description
    def qparams(self) -> dict[str, list[dict]]:
        """Every int8 activation (by the graph node it quantizes) and every weighted layer's qparams."""
        activations = [
            {"quantizer": name, "tensor": self.producer_of[name], "group": module.group,
             "scale": float(module.scale), "zero_point": int(module.zero_point),
             "fixed": self.fixed_qparams[module.group] is not None}
            for name, module in self.activation_quantizers()
        ]
        layers = []
        for name, layer in self.weighted_layers():
            weight_scale, _ = layer.weight_qparams()
            layers.append({
                "layer": name, "type": type(layer.layer).__name__,
                "input_quantizer": _module_name(self.graph_module, layer.input_quant),
                "per_channel": layer.per_channel, "weight_scale": weight_scale.flatten().tolist(),
                "bias_scale": layer.bias_scale().flatten().tolist(),
            })
        return {"activations": activations, "layers": layers}


def _module_name(root: nn.Module, target: nn.Module) -> str:
    return next(name for name, module in root.named_modules() if module is target)


def _inputs(batches: Iterable) -> Iterator[torch.Tensor]:
    """Images from a loader that yields x or (x, y, ...)."""
    for batch in batches:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def build_quantized(model: nn.Module, example_input: torch.Tensor, method: str = "minmax",
                    input_qparams: tuple[float, int] | None = IMAGE_INPUT_QPARAMS) -> QuantizedModel:
    """Fold BN, trace and insert fake quantizers (uncalibrated, in float mode)."""
    Observer(method)  # validates the method name before any work
    folded = fold_batchnorm(model)
    graph = build_quant_graph(folded, example_input[:1], input_qparams)
    return QuantizedModel(graph, method, getattr(model, "config", None), input_qparams, model_temperature(model))


def model_temperature(model: nn.Module) -> float | None:
    """The softmax-ECA temperature of `model` (every attention module holds the same one), None without."""
    return next((float(m.temperature) for m in model.modules()
                 if hasattr(m, "set_temperature") and hasattr(m, "temperature")), None)


def quantize_model(model: nn.Module, calib_loader: Iterable, method: str = "minmax", num_samples: int = 512,
                   input_qparams: tuple[float, int] | None = IMAGE_INPUT_QPARAMS,
                   progress: bool = True) -> QuantizedModel:
    """Post-training quantization: fold BN, calibrate on `num_samples` images, return the int8 simulation.

    `calib_loader` yields image batches or (images, labels); `input_qparams` None observes the input too.
    """
    images = _inputs(calib_loader)
    first = next(images, None)
    if first is None:
        raise FlynetError("the calibration data is empty; pass a --data path with training images")
    quantized = build_quantized(model, first, method, input_qparams)
    quantized.calibrate(itertools.chain([first], images), num_samples, progress)
    return quantized.eval()
