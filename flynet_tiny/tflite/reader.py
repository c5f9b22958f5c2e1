"""Read a `.tflite` flatbuffer into plain Python data: tensors, operators, metadata."""

from __future__ import annotations

import numpy as np

from ..errors import FlynetError
from .graph import TFLiteGraph, TFLiteOperator, TFLiteTensor
from .schema import (
    ACTIVATION_NAMES,
    FILE_IDENTIFIER,
    NUMPY_DTYPES,
    OP_OPTIONS,
    OPCODE_NAMES,
    OPTIONS_TYPE_NAMES,
    PADDING_NAMES,
    TENSOR_TYPE_NAMES,
    camel_to_snake,
    schema,
)
from .validate import check_graph


# A tensor larger than this cannot exist on a 32-bit microcontroller, and its byte count would overflow there.
MAX_TENSOR_BYTES = 1 << 31


def read_tflite(data: bytes) -> TFLiteGraph:
    """The model in `data`, validated once here before any stage uses it: the flatbuffer's structure, every
    index in range (opcodes, tensors, buffers), constant buffers the size their shapes say, quantization
    parameters that fit their tensors, a graph whose ops read only what exists before them, and for the
    builtin ops flynet-tiny handles, operand counts and shapes (tflite/validate.py). Any violation is a
    one-line FlynetError naming the op or tensor."""
    data = bytes(data)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise FlynetError("not a TFLite flatbuffer (missing the 'TFL3' identifier): pass a .tflite file")
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as exc:  # the flatbuffer library raises assorted errors on corrupt input
        raise FlynetError(f"corrupt TFLite flatbuffer ({type(exc).__name__}: {exc}): re-export the model") from None
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise FlynetError("only single-subgraph TFLite models are supported")
    subgraph = model.subgraphs[0]
    buffers = list(model.buffers or [])
    codes = list(model.operatorCodes or [])

    tensors = [_read_tensor(i, t, buffers) for i, t in enumerate(subgraph.tensors or [])]
    operators = []
    for i, op in enumerate(subgraph.operators or []):
        if not 0 <= op.opcodeIndex < len(codes):
            raise _corrupt(f"operator {i} names opcode entry {op.opcodeIndex} of {len(codes)}")
        code = codes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = OPCODE_NAMES.get(builtin)
        if name is None:
            raise FlynetError(f"operator {i} is builtin op {builtin}, which the TFLite schema flynet-tiny reads does not "
                              "know: export the model with the ops TFLite Micro supports")
        if name == "CUSTOM":
            name = f"CUSTOM:{(code.customCode or b'').decode(errors='replace')}"
        carried = OPTIONS_TYPE_NAMES.get(op.builtinOptionsType, f"options type {op.builtinOptionsType}")
        if op.builtinOptionsType and name in OP_OPTIONS and carried != OP_OPTIONS[name]:
            raise _corrupt(f"operator {i} ({name}) carries {carried}, not {OP_OPTIONS[name]}")
        inputs = _indices(op.inputs, len(tensors), f"operator {i} ({name}) input", optional=True)
        outputs = _indices(op.outputs, len(tensors), f"operator {i} ({name}) output")
        operators.append(TFLiteOperator(index=i, opcode=name, version=int(code.version), inputs=inputs,
                                        outputs=outputs, options=_options_dict(op.builtinOptions)))
    metadata = {}
    for entry in model.metadata or []:
        if not 0 <= entry.buffer < len(buffers):
            raise _corrupt(f"metadata {entry.name!r} names buffer {entry.buffer} of {len(buffers)}")
        buf = buffers[entry.buffer]
        metadata[(entry.name or b"").decode(errors="replace")] = bytes(buf.data) if buf.data is not None else b""
    graph = TFLiteGraph(
        tensors=tensors,
        operators=operators,
        inputs=_indices(subgraph.inputs, len(tensors), "graph input"),
        outputs=_indices(subgraph.outputs, len(tensors), "graph output"),
        metadata=metadata,
        description=(model.description or b"").decode(errors="replace"),
    )
    check_graph(graph)
    return graph


def _corrupt(what: str) -> FlynetError:
    return FlynetError(f"corrupt TFLite flatbuffer: {what}; re-export the model")


def _indices(values, count: int, what: str, optional: bool = False) -> tuple[int, ...]:
    """Tensor indices, each in range (-1, an omitted optional input, only where `optional`)."""
    indices = tuple(int(x) for x in (values if values is not None else []))
    for index in indices:
        if not (0 <= index < count or (optional and index == -1)):
            raise _corrupt(f"{what} is tensor {index}, but the model has {count} tensors")
    return indices


INDEX_TYPES = ("int32", "int64")


def _read_tensor(index: int, tensor, buffers) -> TFLiteTensor:
    name = (tensor.name or b"").decode(errors="replace")
    label = f"tensor {index} ({name!r})"
    dtype = TENSOR_TYPE_NAMES.get(tensor.type)
    if dtype is None:
        kind = next((k for k, v in vars(schema.TensorType).items() if v == tensor.type), f"type {tensor.type}")
        raise FlynetError(f"{label} is {kind}, which flynet-tiny does not read "
                          f"(it reads {', '.join(TENSOR_TYPE_NAMES.values())}): quantize the model to int8")
    shape = tuple(int(s) for s in (tensor.shape if tensor.shape is not None else []))
    if any(s < 0 for s in shape):
        raise FlynetError(f"{label} has shape {list(shape)} with an unknown dimension: export with fixed shapes")
    if any(s == 0 for s in shape) and dtype not in INDEX_TYPES:  # an empty index list (MEAN's axes ()) is fine
        raise FlynetError(f"{label} has shape {list(shape)}, which holds no elements: every tensor needs at least one")
    nbytes = int(np.prod(shape, dtype=object)) * NUMPY_DTYPES[dtype].itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise FlynetError(f"{label} has shape {list(shape)}: {nbytes:,} bytes, more than a microcontroller can address")
    if tensor.sparsity is not None:
        raise FlynetError(f"{label} is sparse, which flynet-tiny does not read: export dense weights")
    if not 0 <= tensor.buffer < len(buffers):
        raise _corrupt(f"{label} names buffer {tensor.buffer}, but the model has {len(buffers)} buffers")
    buffer = buffers[tensor.buffer]
    if buffer.offset > 1 or buffer.size:
        raise FlynetError(f"{label} keeps its data outside the flatbuffer (a model over 2 GB): not supported")
    data = None
    if buffer.data is not None and len(buffer.data):
        raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
        if len(raw) != nbytes:
            raise _corrupt(f"{label} of shape {list(shape)} ({dtype}) needs {nbytes} bytes, its buffer holds {len(raw)}")
        data = np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype]).reshape(shape).copy()
    elif nbytes == 0 and tensor.buffer > 0:  # an empty constant index list: its buffer holds no bytes
        data = np.zeros(shape, dtype=NUMPY_DTYPES[dtype])
    scale = zero_point = None
    quantized_dimension = 0
    quant = tensor.quantization
    if quant is not None and quant.scale is not None and len(quant.scale):
        scale = np.asarray(quant.scale, dtype=np.float32)
        zero_point = np.asarray(quant.zeroPoint if quant.zeroPoint is not None else [0], dtype=np.int64)
        quantized_dimension = int(quant.quantizedDimension)
        _check_quantization(label, shape, dtype, scale, zero_point, quantized_dimension)
        if zero_point.size == 1:  # TFLM's rule: one zero point stands for every channel (tflite/compact.py)
            zero_point = np.repeat(zero_point, scale.size)
    return TFLiteTensor(
        index=index,
        name=name,
        shape=shape,
        dtype=dtype,
        scale=scale,
        zero_point=zero_point,
        quantized_dimension=quantized_dimension,
        data=data,
        is_variable=bool(tensor.isVariable),
    )


def _check_quantization(label: str, shape, dtype: str, scale: np.ndarray, zero_point: np.ndarray, axis: int) -> None:
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise FlynetError(f"{label} has a quantization scale that is not a positive number: re-export the model")
    if zero_point.size not in (1, scale.size):
        raise _corrupt(f"{label} has {scale.size} scales but {zero_point.size} zero points")
    if scale.size > 1 and not (0 <= axis < len(shape) and shape[axis] == scale.size):
        raise _corrupt(f"{label} has {scale.size} per-channel scales along dimension {axis} of shape {list(shape)}")
    if dtype in ("int8", "uint8", "int16"):
        info = np.iinfo(NUMPY_DTYPES[dtype])
        if np.any(zero_point < info.min) or np.any(zero_point > info.max):
            raise FlynetError(f"{label} has a zero point outside the {dtype} range: re-export the model")


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
