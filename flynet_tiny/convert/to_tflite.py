"""The project's own QDQ-ONNX -> int8 TFLite converter.

    tflite_bytes = convert_qdq_onnx("model_qdq.onnx", io="int8", metadata={...})

NHWC throughout: every 4-D ONNX value [N, C, H, W] becomes a TFLite tensor
[N, H, W, C], and every other value carries the axis permutation that relates
its TFLite shape to its ONNX shape (`Layout.perm`: tflite_shape[i] =
onnx_shape[perm[i]]). Layouts are chosen once, here, so the graph holds no
TRANSPOSE: axes of concat / reduce / slice / pad / softmax are remapped and a
flatten in front of a fully connected layer permutes the layer's weight columns.
The per-op rules live in `op_lowering`.

Inputs are int8 (graph input = the first QuantizeLinear's parameters) and the
output is int8 (the last DequantizeLinear's); `io="float"` adds QUANTIZE /
DEQUANTIZE at the edges instead. Metadata entry `flynet_tiny` holds JSON
(model name, classes, input size, mean / std, input layout).
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from ..errors import FlynetError
from ..tflite.metadata import METADATA_NAME
from .converter import Converter, canonical_perm
from .onnx_graph import read_qdq_graph
from .op_lowering import RULES, check_supported

IO_MODES = ("int8", "float")


def convert_qdq_onnx(source: str | Path | onnx.ModelProto, io: str = "int8", metadata: dict | None = None,
                     description: str = "flynet-tiny") -> bytes:
    """Convert a QDQ ONNX model to an int8 TFLite flatbuffer (see the module docstring)."""
    if io not in IO_MODES:
        raise FlynetError(f"unknown --io {io!r}: choose one of {', '.join(IO_MODES)}")
    graph = read_qdq_graph(source)
    check_supported(graph)
    cv = Converter(graph, description)

    graph_inputs = []
    for value in graph.inputs:
        params = cv.qparams(value, "graph input")
        perm = canonical_perm(len(cv.shape(value)))
        if io == "float":
            shape = cv.tflite_shape(value, perm)
            float_in = cv.builder.add_tensor(cv.unique_name(f"{value}_float"), shape, "float32")
            cv.define(value, perm, "graph input", params)
            cv.builder.add_operator("QUANTIZE", [float_in], [cv.tensors[value]])
            graph_inputs.append(float_in)
        else:
            graph_inputs.append(cv.define(value, perm, "graph input", params))

    for i, node in enumerate(graph.nodes):
        if i not in cv.skip:
            RULES[node.op](cv, node, i)

    graph_outputs = []
    for value in graph.outputs:
        if io == "float":
            float_out = cv.builder.add_tensor(cv.unique_name(f"{value}_float"), cv.tflite_shape(value), "float32")
            cv.builder.add_operator("DEQUANTIZE", [cv.tensor(value)], [float_out])
            graph_outputs.append(float_out)
        else:
            graph_outputs.append(cv.tensor(value))
    cv.builder.set_io(graph_inputs, graph_outputs)
    info = dict(metadata or {})
    info.setdefault("input_layout", "NHWC")
    info.setdefault("io", io)
    cv.builder.add_metadata(METADATA_NAME, json.dumps(info, sort_keys=True).encode())
    return cv.builder.build()

