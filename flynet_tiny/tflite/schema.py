"""Name <-> enum tables over the TFLite schema, shared by the builder and the reader."""

from __future__ import annotations

import re

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


OPCODE_NAMES: dict[int, str] = _enum_names(schema.BuiltinOperator)
OPCODES: dict[str, int] = {v: k for k, v in OPCODE_NAMES.items()}
OPTIONS_TYPE_NAMES: dict[int, str] = _enum_names(schema.BuiltinOptions)
PADDING_NAMES: dict[int, str] = _enum_names(schema.Padding)
ACTIVATION_NAMES: dict[int, str] = _enum_names(schema.ActivationFunctionType)

TENSOR_TYPES: dict[str, int] = {
    "float32": schema.TensorType.FLOAT32,
    "int32": schema.TensorType.INT32,
    "int8": schema.TensorType.INT8,
    "uint8": schema.TensorType.UINT8,
    "int16": schema.TensorType.INT16,
    "int64": schema.TensorType.INT64,
    "bool": schema.TensorType.BOOL,
}
TENSOR_TYPE_NAMES: dict[int, str] = {v: k for k, v in TENSOR_TYPES.items()}
NUMPY_DTYPES: dict[str, np.dtype] = {name: np.dtype(name) for name in TENSOR_TYPES}

# The options table each builtin op carries (schema union member name).
OP_OPTIONS: dict[str, str] = {
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "ADD": "AddOptions",
    "SUB": "SubOptions",
    "MUL": "MulOptions",
    "SQUARED_DIFFERENCE": "SquaredDifferenceOptions",
    "CONCATENATION": "ConcatenationOptions",
    "RESHAPE": "ReshapeOptions",
    "SOFTMAX": "SoftmaxOptions",
    "HARD_SWISH": "HardSwishOptions",
    "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "SLICE": "SliceOptions",
    "PAD": "PadOptions",
    "DEQUANTIZE": "DequantizeOptions",
    "QUANTIZE": "QuantizeOptions",
    "TRANSPOSE": "TransposeOptions",
    "SHAPE": "ShapeOptions",
    "PACK": "PackOptions",
    "GATHER": "GatherOptions",
    "SVDF": "SVDFOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
}

# Lowest version of each op that carries int8 tensors (TFLite's op_version rules),
# so that TFLM and LiteRT both accept what we write.
INT8_OP_VERSIONS: dict[str, int] = {
    "CONV_2D": 3,
    "DEPTHWISE_CONV_2D": 3,
    "FULLY_CONNECTED": 4,
    "AVERAGE_POOL_2D": 2,
    "MAX_POOL_2D": 2,
    "ADD": 2,
    "SUB": 2,
    "MUL": 2,
    "SQUARED_DIFFERENCE": 2,
    "CONCATENATION": 2,
    "RESHAPE": 1,
    "SOFTMAX": 2,
    "LOGISTIC": 2,
    "HARD_SWISH": 1,
    "MEAN": 2,
    "SUM": 2,
    "REDUCE_MAX": 2,
    "MAXIMUM": 2,
    "MINIMUM": 2,
    "STRIDED_SLICE": 2,
    "SLICE": 2,
    "PAD": 2,
    "RELU": 2,
    "RELU6": 2,
    "QUANTIZE": 1,
    "DEQUANTIZE": 2,
}


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def options_class(options_name: str):
    return getattr(schema, f"{options_name}T")
