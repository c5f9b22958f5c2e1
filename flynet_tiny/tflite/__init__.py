"""The TFLite flatbuffer format: building, reading and running `.tflite` models.

This is the data type between the export stage (which writes it) and the code
generator (which reads it). Schema bindings come from the `tflite-micro` package.
"""

from .builder import TFLiteBuilder
from .reader import TFLiteGraph, TFLiteOperator, TFLiteTensor, read_tflite

__all__ = ["TFLiteBuilder", "TFLiteGraph", "TFLiteOperator", "TFLiteTensor", "read_tflite"]
