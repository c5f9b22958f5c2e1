"""A smaller flatbuffer for TFLite Micro: the same graph without what only other runtimes read.

Two things in a `.tflite` cost flash on the microcontroller and nothing TFLM uses:
  - per-channel zero-point arrays that are all zero (int8 weights are symmetric): TFLM reads a
    one-entry zero-point array as "this value for every channel" (its allocator's space-saving
    rule), while LiteRT / TFLite reject it, so the portable `.tflite` keeps the full arrays;
  - tensor names (the graph's input and output keep theirs, for the firmware author).
`model_int8.tflite` stays the portable file; the TFLM C array embeds this form. On the bundled
FlyNet that is 5,888 weight channels x 8 bytes of zero points plus 14 KB of names.
"""

from __future__ import annotations

from dataclasses import dataclass

import flatbuffers
import numpy as np

from .builder import aligned_buffer
from .schema import FILE_IDENTIFIER, schema


@dataclass(frozen=True)
class CompactResult:
    model_bytes: bytes
    zero_points_collapsed: int   # per-channel arrays reduced to one entry
    names_dropped: int           # tensor names emptied


def compact_for_tflm(model_bytes: bytes) -> CompactResult:
    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    collapsed = dropped = 0
    for subgraph in model.subgraphs:
        kept_names = set(np.atleast_1d(subgraph.inputs).tolist()) | set(np.atleast_1d(subgraph.outputs).tolist())
        for index, tensor in enumerate(subgraph.tensors):
            if _collapse_zero_points(tensor.quantization):
                collapsed += 1
            if index not in kept_names and tensor.name:
                tensor.name = b""
                dropped += 1
    model.buffers = [aligned_buffer(buffer.data) for buffer in model.buffers]
    builder = flatbuffers.Builder(len(model_bytes))
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return CompactResult(bytes(builder.Output()), collapsed, dropped)


def _collapse_zero_points(quant) -> bool:
    if quant is None or quant.zeroPoint is None or len(quant.zeroPoint) <= 1:
        return False
    if np.any(np.asarray(quant.zeroPoint) != 0):
        return False
    quant.zeroPoint = np.zeros(1, dtype=np.int64)
    return True


def check_same_tflm_outputs(full_bytes: bytes, compact_bytes: bytes, samples: int = 4, seed: int = 0) -> None:
    """TFLM must compute the same bytes from both forms; random inputs exercise every channel."""
    from .interpreters import random_samples, run_tflm_batch

    inputs = random_samples(full_bytes, samples, seed)
    for full, compact in zip(run_tflm_batch(full_bytes, inputs), run_tflm_batch(compact_bytes, inputs)):
        if any(not np.array_equal(a, b) for a, b in zip(full, compact)):
            raise RuntimeError("the compacted TFLM flatbuffer computes other outputs than the .tflite")

