"""BN folding and TFLite-int8 fake quantization (PTQ and QAT). See docs/quantization.md."""

from .fold import fold_batchnorm
from .model import IMAGE_INPUT_QPARAMS, QuantizedModel, build_quantized, quantize_model

__all__ = ["IMAGE_INPUT_QPARAMS", "QuantizedModel", "build_quantized", "fold_batchnorm", "quantize_model"]
