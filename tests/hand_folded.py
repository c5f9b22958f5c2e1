"""Corpus models rewritten by hand into what the code generator takes today, for planning tests.

Until the pooling strides above 2 land in the code generator, ResNet-8 and the VWW MobileNet (a global
AVERAGE_POOL_2D of stride 8 and 3) do not generate. `hand_folded` copies a model with (1) each
AVERAGE_POOL_2D whose window covers its whole map replaced by MEAN over H and W (same output shape,
the same kind of op for the planner), and (2) each RESHAPE whose shape is computed (SHAPE ->
STRIDED_SLICE -> PACK) given its output shape as a constant and the chain dropped (the code generator
folds those itself now; the rewrite keeps TFLM's Python figure comparable). TFLite Micro runs the rewritten model too, so tests compare
bit for bit against it; the layers where the arena peaks (the convolutions) are untouched.
"""

from __future__ import annotations

import numpy as np

from flynet_tiny.tflite import TFLiteBuilder, read_tflite

DROPPED = ("SHAPE", "STRIDED_SLICE", "PACK")


def hand_folded(model_bytes: bytes) -> bytes:
    graph = read_tflite(model_bytes)
    b = TFLiteBuilder(graph.description)
    index: dict[int, int] = {}

    def tensor(t: int) -> int:
        if t < 0:
            return -1
        if t not in index:
            src = graph.tensors[t]
            quantized = src.scale is not None
            index[t] = b.add_tensor(src.name, src.shape, src.dtype, data=src.data,
                                    scale=src.scale if quantized else None,
                                    zero_point=src.zero_point if quantized else None,
                                    quantized_dimension=src.quantized_dimension)
        return index[t]

    computed = {t for op in graph.operators if op.opcode in DROPPED for t in op.outputs}
    for op in graph.operators:
        if op.opcode in DROPPED:
            continue
        inputs, options = list(op.inputs), {k: v for k, v in op.options.items() if v is not None}
        opcode = op.opcode
        if opcode == "RESHAPE" and len(inputs) > 1 and inputs[1] in computed:
            shape = np.array(graph.tensors[op.outputs[0]].shape, dtype=np.int32)
            inputs[1] = -2
            options = {"new_shape": shape.tolist()}
        if opcode == "AVERAGE_POOL_2D":
            x = graph.tensors[op.inputs[0]]
            if (options["filter_height"], options["filter_width"]) == tuple(x.shape[1:3]):
                opcode, options = "MEAN", {"keep_dims": True}
                inputs.append(-3)
        mapped = []
        for t in inputs:
            if t == -2:
                mapped.append(b.add_constant(f"shape_{op.index}", shape))
            elif t == -3:
                mapped.append(b.add_constant(f"axes_{op.index}", np.array([1, 2], dtype=np.int32)))
            else:
                mapped.append(tensor(t))
        b.add_operator(opcode, mapped, [tensor(t) for t in op.outputs], options)
    b.set_io([tensor(t) for t in graph.inputs], [tensor(t) for t in graph.outputs])
    return b.build()
