"""What a `.tflite` holds, as plain Python data: tensors, operators, the graph (read by reader.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import FlynetError
from .schema import NUMPY_DTYPES


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
    is_variable: bool = False              # state an op keeps between invocations (e.g. an LSTM's)

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
