"""Write a TFLite flatbuffer from tensors and builtin operators.

    b = TFLiteBuilder("one conv")
    x = b.add_tensor("input", [1, 8, 8, 3], "int8", scale=0.02, zero_point=-3)
    w = b.add_tensor("w", [4, 3, 3, 3], "int8", data=w_int8, scale=w_scales, zero_point=[0] * 4)
    ...
    b.add_operator("CONV_2D", [x, w, bias], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    b.set_io([x], [y])
    model_bytes = b.build()

Option keys are the schema's field names in snake_case; enum-valued options
(`padding`, `fused_activation_function`) take their names ("SAME", "RELU6").
Constant data is stored in 16-byte-aligned buffers so kernels can read int32
biases in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import flatbuffers
import numpy as np

from .schema import (
    FILE_IDENTIFIER,
    INT8_OP_VERSIONS,
    NUMPY_DTYPES,
    OP_OPTIONS,
    OPCODES,
    SCHEMA_VERSION,
    TENSOR_TYPES,
    options_class,
    schema,
    snake_to_camel,
)

_BUFFER_ALIGNMENT = 16
_ENUM_OPTIONS = {"padding": schema.Padding, "fused_activation_function": schema.ActivationFunctionType}


class _AlignedBufferT(schema.BufferT):
    """A buffer whose bytes start on a 16-byte boundary of the file."""

    def Pack(self, builder: flatbuffers.Builder) -> int:
        data_offset = None
        if self.data is not None and len(self.data):
            raw = np.ascontiguousarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(raw), _BUFFER_ALIGNMENT)
            builder.head = builder.head - len(raw)
            builder.Bytes[builder.head : builder.head + len(raw)] = raw
            data_offset = builder.EndVector()
        schema.BufferStart(builder)
        if data_offset is not None:
            schema.BufferAddData(builder, data_offset)
        return schema.BufferEnd(builder)


def aligned_buffer(data: np.ndarray | None) -> _AlignedBufferT:
    buffer = _AlignedBufferT()
    buffer.data = data
    return buffer


@dataclass
class _Operator:
    opcode: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)
    version: int | None = None
    custom_code: str | None = None


class TFLiteBuilder:
    def __init__(self, description: str = "flynet-tiny"):
        self.description = description
        self._tensors: list[schema.TensorT] = []
        self._buffers: list[schema.BufferT] = [aligned_buffer(None)]  # buffer 0: the empty sentinel
        self._operators: list[_Operator] = []
        self._inputs: list[int] = []
        self._outputs: list[int] = []
        self._metadata: list[tuple[str, bytes]] = []

    # -- tensors -------------------------------------------------------------
    def add_tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: str = "int8",
        data: np.ndarray | None = None,
        scale: float | Sequence[float] | None = None,
        zero_point: int | Sequence[int] | None = None,
        quantized_dimension: int = 0,
    ) -> int:
        if dtype not in TENSOR_TYPES:
            raise ValueError(f"tensor {name}: unsupported dtype {dtype!r}")
        tensor = schema.TensorT()
        tensor.name = name.encode()
        tensor.shape = np.asarray(list(shape), dtype=np.int32)
        tensor.type = TENSOR_TYPES[dtype]
        tensor.buffer = 0
        if data is not None:
            array = np.asarray(data)
            if tuple(array.shape) != tuple(shape) and array.size != int(np.prod(shape)):
                raise ValueError(f"tensor {name}: data of shape {array.shape} does not fill {tuple(shape)}")
            self._buffers.append(aligned_buffer(np.frombuffer(array.astype(NUMPY_DTYPES[dtype]).tobytes(), dtype=np.uint8)))
            tensor.buffer = len(self._buffers) - 1
        if scale is not None:
            scales = np.atleast_1d(np.asarray(scale, dtype=np.float32))
            zero_points = np.atleast_1d(np.asarray(0 if zero_point is None else zero_point, dtype=np.int64))
            if zero_points.size == 1 and scales.size > 1:
                zero_points = np.repeat(zero_points, scales.size)
            if zero_points.size != scales.size:
                raise ValueError(f"tensor {name}: {scales.size} scales but {zero_points.size} zero points")
            quant = schema.QuantizationParametersT()
            quant.scale = scales
            quant.zeroPoint = zero_points
            quant.quantizedDimension = int(quantized_dimension)
            tensor.quantization = quant
        self._tensors.append(tensor)
        return len(self._tensors) - 1

    def add_constant(self, name: str, data: np.ndarray, dtype: str = "int32") -> int:
        """An unquantized constant, e.g. a shape, axes or paddings operand."""
        array = np.asarray(data, dtype=NUMPY_DTYPES[dtype])
        return self.add_tensor(name, array.shape, dtype, data=array)

    # -- operators -----------------------------------------------------------
    def add_operator(
        self,
        opcode: str,
        inputs: Iterable[int],
        outputs: Iterable[int],
        options: dict | None = None,
        version: int | None = None,
        custom_code: str | None = None,
    ) -> int:
        """`custom_code` names the op of a CUSTOM operator (its options are not written)."""
        if opcode not in OPCODES:
            raise ValueError(f"unknown builtin operator {opcode!r}")
        if options and opcode not in OP_OPTIONS:
            raise ValueError(f"{opcode} takes no options, got {sorted(options)}")
        if (custom_code is not None) != (opcode == "CUSTOM"):
            raise ValueError("custom_code goes with opcode CUSTOM, and only with it")
        self._operators.append(_Operator(opcode, list(inputs), list(outputs), dict(options or {}), version, custom_code))
        return len(self._operators) - 1

    def set_io(self, inputs: Sequence[int], outputs: Sequence[int]) -> None:
        self._inputs = list(inputs)
        self._outputs = list(outputs)

    def add_metadata(self, name: str, data: bytes) -> None:
        self._metadata.append((name, bytes(data)))

    # -- serialisation -------------------------------------------------------
    def build(self) -> bytes:
        if not self._inputs or not self._outputs:
            raise ValueError("set_io() must name the graph inputs and outputs before build()")
        opcode_index: dict[tuple[str, int, str | None], int] = {}
        operator_codes: list[schema.OperatorCodeT] = []
        operators: list[schema.OperatorT] = []
        for op in self._operators:
            version = op.version or INT8_OP_VERSIONS.get(op.opcode, 1)
            key = (op.opcode, version, op.custom_code)
            if key not in opcode_index:
                code = schema.OperatorCodeT()
                code.builtinCode = OPCODES[op.opcode]
                code.deprecatedBuiltinCode = min(OPCODES[op.opcode], 127)
                code.version = version
                if op.custom_code is not None:
                    code.customCode = op.custom_code.encode()
                opcode_index[key] = len(operator_codes)
                operator_codes.append(code)
            operator = schema.OperatorT()
            operator.opcodeIndex = opcode_index[key]
            operator.inputs = np.asarray(op.inputs, dtype=np.int32)
            operator.outputs = np.asarray(op.outputs, dtype=np.int32)
            if op.opcode in OP_OPTIONS:
                options_name = OP_OPTIONS[op.opcode]
                operator.builtinOptionsType = getattr(schema.BuiltinOptions, options_name)
                operator.builtinOptions = _make_options(op.opcode, options_name, op.options)
            operators.append(operator)

        subgraph = schema.SubGraphT()
        subgraph.tensors = self._tensors
        subgraph.operators = operators
        subgraph.inputs = np.asarray(self._inputs, dtype=np.int32)
        subgraph.outputs = np.asarray(self._outputs, dtype=np.int32)
        subgraph.name = b"main"

        buffers = list(self._buffers)
        metadata = []
        for name, data in self._metadata:
            buffers.append(aligned_buffer(np.frombuffer(data, dtype=np.uint8)))
            entry = schema.MetadataT()
            entry.name = name.encode()
            entry.buffer = len(buffers) - 1
            metadata.append(entry)

        model = schema.ModelT()
        model.version = SCHEMA_VERSION
        model.description = self.description.encode()
        model.operatorCodes = operator_codes
        model.subgraphs = [subgraph]
        model.buffers = buffers
        model.metadata = metadata or None

        fb = flatbuffers.Builder(1024)
        fb.Finish(model.Pack(fb), file_identifier=FILE_IDENTIFIER)
        return bytes(fb.Output())


def _make_options(opcode: str, options_name: str, values: dict):
    options = options_class(options_name)()
    for key, value in values.items():
        attr = snake_to_camel(key)
        if not hasattr(options, attr):
            raise ValueError(f"{opcode}: unknown option {key!r}")
        if key in _ENUM_OPTIONS and isinstance(value, str):
            value = getattr(_ENUM_OPTIONS[key], value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            value = np.asarray(value, dtype=np.int32)
        setattr(options, attr, value)
    return options
