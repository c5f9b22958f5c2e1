"""BN folding and TFLite-int8 fake quantization (PTQ and QAT). See docs/quantization.md."""

from .fold import fold_batchnorm
from .io import load_quantized, save_quantized
from .model import IMAGE_INPUT_QPARAMS, QuantizedModel, build_quantized, quantize_model
from .observers import METHODS
from .qat import convert_qat, prepare_qat, qat_parameters

__all__ = ["IMAGE_INPUT_QPARAMS", "METHODS", "QuantizedModel", "build_quantized", "convert_qat", "fold_batchnorm",
           "load_quantized", "prepare_qat", "qat_parameters", "quantize_model", "save_quantized"]
