"""Read a `.tflite` flatbuffer into plain Python data: tensors, operators, metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import FlynetError
from .schema import (
    ACTIVATION_NAMES,
    FILE_IDENTIFIER,
    NUMPY_DTYPES,
    OPCODE_NAMES,
    PADDING_NAMES,
    TENSOR_TYPE_NAMES,
    camel_to_snake,
    schema,
)


@dataclass
class TFLiteTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray | None = None        # float32, one per channel or one per tensor
    zero_point: np.ndarray | None = None   # int64, same length as scale
    quantized_dimension: int = 0
    data: np.ndarray | None = None         # constant data, shaped, for weights / biases / params

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * NUMPY_DTYPES[self.dtype].itemsize

    @property
    def per_channel(self) -> bool:
        return self.scale is not None and self.scale.size > 1


@dataclass
class TFLiteOperator:
    index: int
    opcode: str
    version: int
    inputs: tuple[int, ...]    # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)


@dataclass
class TFLiteGraph:
    tensors: list[TFLiteTensor]
    operators: list[TFLiteOperator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    metadata: dict[str, bytes]
    description: str

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.operators:
            counts[op.opcode] = counts.get(op.opcode, 0) + 1
        return counts

    def producers(self) -> dict[int, TFLiteOperator]:
        return {t: op for op in self.operators for t in op.outputs}

    def consumers(self) -> dict[int, list[TFLiteOperator]]:
        users: dict[int, list[TFLiteOperator]] = {}
        for op in self.operators:
            for t in op.inputs:
                if t >= 0:
                    users.setdefault(t, []).append(op)
        return users

    def edge_quantization(self, index: int) -> TFLiteTensor:
        """The tensor whose scale and zero point describe model input / output `index`: the tensor itself,
        or for a float32 edge the int8 tensor its QUANTIZE writes (an input) or its DEQUANTIZE reads (an output)."""
        tensor = self.tensors[index]
        if tensor.dtype != "float32":
            return tensor
        for op in self.operators:
            if op.opcode == "QUANTIZE" and op.inputs[0] == index:
                return self.tensors[op.outputs[0]]
            if op.opcode == "DEQUANTIZE" and op.outputs[0] == index:
                return self.tensors[op.inputs[0]]
        return tensor

    def require_int8(self) -> None:
        """Fail with one line unless the model is quantized: int8 inside, its inputs int8, or uint8 /
        float32 that only QUANTIZE reads, its outputs int8, or uint8 / float32 from QUANTIZE / DEQUANTIZE."""
        consumers, producers = self.consumers(), self.producers()
        edges = set()
        for index in self.inputs:
            tensor = self.tensors[index]
            readers = consumers.get(index, [])
            if tensor.dtype in ("uint8", "float32") and readers and all(op.opcode == "QUANTIZE" for op in readers):
                edges.add(index)
            elif tensor.dtype != "int8" or tensor.scale is None:
                raise FlynetError(
                    f"model input {tensor.name!r} is {tensor.dtype}, not quantized int8 (nor uint8 / float32 read by "
                    "a QUANTIZE): convert the model with full-integer int8 quantization"
                )
        for index in self.outputs:
            tensor = self.tensors[index]
            writer = producers.get(index)
            if tensor.dtype in ("uint8", "float32") and writer is not None \
                    and writer.opcode in ("QUANTIZE", "DEQUANTIZE"):
                edges.add(index)
            elif tensor.dtype != "int8" or tensor.scale is None:
                raise FlynetError(
                    f"model output {tensor.name!r} is {tensor.dtype}, not quantized int8 (nor uint8 / float32 "
                    "written by a QUANTIZE / DEQUANTIZE): convert the model with full-integer int8 quantization"
                )
        for op in self.operators:
            for index in (*op.inputs, *op.outputs):
                tensor = self.tensors[index] if index >= 0 else None
                if tensor is not None and tensor.dtype == "float32" and index not in edges:
                    raise FlynetError(
                        f"operator {op.index} ({op.opcode}) uses float tensor {tensor.name!r}: "
                        "only fully int8-quantized models are supported"
                    )


def read_tflite(data: bytes) -> TFLiteGraph:
    data = bytes(data)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise FlynetError("not a TFLite flatbuffer (missing the 'TFL3' identifier): pass a .tflite file")
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as exc:  # the flatbuffer library raises assorted errors on corrupt input
        raise FlynetError(f"corrupt TFLite flatbuffer ({exc}): re-export the model") from exc
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise FlynetError("only single-subgraph TFLite models are supported")
    subgraph = model.subgraphs[0]

    tensors = [_read_tensor(i, t, model.buffers) for i, t in enumerate(subgraph.tensors or [])]
    operators = []
    for i, op in enumerate(subgraph.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = OPCODE_NAMES.get(builtin, f"UNKNOWN_{builtin}")
        if name == "CUSTOM":
            name = f"CUSTOM:{(code.customCode or b'').decode(errors='replace')}"
        operators.append(
            TFLiteOperator(
                index=i,
                opcode=name,
                version=int(code.version),
                inputs=tuple(int(x) for x in (op.inputs if op.inputs is not None else [])),
                outputs=tuple(int(x) for x in (op.outputs if op.outputs is not None else [])),
                options=_options_dict(op.builtinOptions),
            )
        )
    metadata = {}
    for entry in model.metadata or []:
        buf = model.buffers[entry.buffer]
        metadata[entry.name.decode()] = bytes(buf.data) if buf.data is not None else b""
    return TFLiteGraph(
        tensors=tensors,
        operators=operators,
        inputs=tuple(int(x) for x in subgraph.inputs),
        outputs=tuple(int(x) for x in subgraph.outputs),
        metadata=metadata,
        description=(model.description or b"").decode(errors="replace"),
    )


def _read_tensor(index: int, tensor, buffers) -> TFLiteTensor:
    dtype = TENSOR_TYPE_NAMES.get(tensor.type, f"type{tensor.type}")
    shape = tuple(int(s) for s in (tensor.shape if tensor.shape is not None else []))
    data = None
    buffer = buffers[tensor.buffer] if buffers and tensor.buffer < len(buffers) else None
    if buffer is not None and buffer.data is not None and len(buffer.data) and dtype in NUMPY_DTYPES:
        raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
        data = np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype]).reshape(shape).copy()
    scale = zero_point = None
    quantized_dimension = 0
    quant = tensor.quantization
    if quant is not None and quant.scale is not None and len(quant.scale):
        scale = np.asarray(quant.scale, dtype=np.float32)
        zero_point = np.asarray(quant.zeroPoint if quant.zeroPoint is not None else [0], dtype=np.int64)
        if zero_point.size == 1:  # TFLM's rule: one zero point stands for every channel (tflite/compact.py)
            zero_point = np.repeat(zero_point, scale.size)
        quantized_dimension = int(quant.quantizedDimension)
    return TFLiteTensor(
        index=index,
        name=(tensor.name or b"").decode(errors="replace"),
        shape=shape,
        dtype=dtype,
        scale=scale,
        zero_point=zero_point,
        quantized_dimension=quantized_dimension,
        data=data,
    )


def _options_dict(options) -> dict:
    if options is None:
        return {}
    result = {}
    for attr, value in vars(options).items():
        key = camel_to_snake(attr)
        if key == "padding":
            value = PADDING_NAMES.get(value, value)
        elif key == "fused_activation_function":
            value = ACTIVATION_NAMES.get(value, value)
        elif isinstance(value, np.ndarray):
            value = [int(v) for v in value]
        result[key] = value
    return result
