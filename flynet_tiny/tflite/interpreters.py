"""Reference interpreters our output is checked against: TFLite Micro and LiteRT's reference kernels."""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from typing import Callable, Sequence

import numpy as np

_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_ARENA_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_ARENA_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
DEFAULT_ARENA = 4 * 1024 * 1024


def tflm_interpreter(model_bytes: bytes, arena_size: int = DEFAULT_ARENA):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)


def run_tflm(model_bytes: bytes, inputs: Sequence[np.ndarray], arena_size: int = DEFAULT_ARENA) -> list[np.ndarray]:
    """Run one inference per batch item is the caller's job: `inputs` are the graph's input tensors."""
    interpreter = tflm_interpreter(model_bytes, arena_size)
    return _invoke_tflm(interpreter, inputs, _io_counts(model_bytes)[1])


def run_tflm_batch(model_bytes: bytes, samples: Sequence[Sequence[np.ndarray]], arena_size: int = DEFAULT_ARENA,
                   on_sample: Callable[[], None] = lambda: None) -> list[list[np.ndarray]]:
    """Run many inferences on one interpreter (TFLM models are stateless between invokes); `on_sample`
    is called after each (progress)."""
    interpreter = tflm_interpreter(model_bytes, arena_size)
    n_outputs = _io_counts(model_bytes)[1]
    results = []
    for sample in samples:
        results.append(_invoke_tflm(interpreter, sample, n_outputs))
        on_sample()
    return results


def _invoke_tflm(interpreter, inputs: Sequence[np.ndarray], n_outputs: int) -> list[np.ndarray]:
    for i, x in enumerate(inputs):
        interpreter.set_input(np.ascontiguousarray(x), i)
    interpreter.invoke()
    return [np.array(interpreter.get_output(i)) for i in range(n_outputs)]


def _io_counts(model_bytes: bytes) -> tuple[int, int]:
    """(graph inputs, graph outputs): TFLM prints an error for every index it is asked that does not exist."""
    from .reader import read_tflite

    graph = read_tflite(model_bytes)
    return len(graph.inputs), len(graph.outputs)


@contextmanager
def _captured_stderr():
    """Capture what C++ code writes to file descriptor 2."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            holder: dict[str, str] = {}
            yield holder
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            holder["text"] = sink.read().decode(errors="replace")


def tflm_arena_bytes(model_bytes: bytes) -> dict[str, int]:
    """TFLM's measured arena use after one inference: total, head (activations, scratch), tail (persistent)."""
    interpreter = tflm_interpreter(model_bytes)
    n_inputs, n_outputs = _io_counts(model_bytes)
    zeros = []
    for index in range(n_inputs):
        details = interpreter.get_input_details(index)
        zeros.append(np.zeros(details["shape"], dtype=details["dtype"]))
    _invoke_tflm(interpreter, zeros, n_outputs)
    with _captured_stderr() as captured:
        interpreter.print_allocations()
    text = captured["text"]
    total = _ARENA_TOTAL.search(text)
    if total is None:
        raise RuntimeError(f"TFLM printed no arena summary: {text[:200]!r}")
    return {
        "total": int(total.group(1)),
        "head": int(_ARENA_HEAD.search(text).group(1)),
        "tail": int(_ARENA_TAIL.search(text).group(1)),
    }


def run_litert_reference(model_bytes: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """LiteRT with its reference kernels (BUILTIN_REF), which round like TFLM."""
    return run_litert_reference_batch(model_bytes, [inputs])[0]


def run_litert_reference_batch(model_bytes: bytes, samples: Sequence[Sequence[np.ndarray]],
                               on_sample: Callable[[], None] = lambda: None) -> list[list[np.ndarray]]:
    """LiteRT reference kernels, one interpreter for all samples: a new interpreter per sample
    aborts inside LiteRT after a few hundred. `on_sample` is called after each (progress)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=bytes(model_bytes), num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    results = []
    for sample in samples:
        for detail, x in zip(inputs, sample):
            interpreter.set_tensor(detail["index"], np.ascontiguousarray(x))
        interpreter.invoke()
        results.append([np.array(interpreter.get_tensor(d["index"])) for d in outputs])
        on_sample()
    return results
