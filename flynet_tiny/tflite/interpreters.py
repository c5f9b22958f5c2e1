"""Reference interpreters our output is checked against: TFLite Micro and LiteRT's reference kernels."""

from __future__ import annotations

import os
import re
import signal
import tempfile
from contextlib import contextmanager
from typing import Callable, Sequence

import numpy as np

from ..errors import FlynetError

_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_ARENA_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_ARENA_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
DEFAULT_ARENA = 4 * 1024 * 1024


@contextmanager
def refused_by(runtime: str):
    """A runtime that refuses the model (its own checks, e.g. a kernel's Prepare) is one line about the input;
    what it prints on stderr meanwhile is caught, and said in that line when its exception says nothing."""
    error = None
    with _captured_stderr() as captured:
        try:
            yield
        except (RuntimeError, ValueError) as exc:
            error = exc
    if error is not None:
        printed = [line.strip() for line in captured["text"].splitlines() if line.strip()]
        detail = " ".join(str(error).split())[:240] or (printed[-1][:240] if printed else type(error).__name__)
        raise FlynetError(f"{runtime} cannot run the model ({detail}): re-export it with the ops, types and shapes "
                          f"{runtime} supports") from None


def check_runtimes_survive(model_bytes: bytes, samples: Sequence[Sequence[np.ndarray]]) -> None:
    """LiteRT-ref, then TFLite Micro, run `samples` in a forked child before this process runs them.

    Both trust the file they are given: a malformed model this package's checks miss can make them
    abort or crash, which would take the command down with no message. In a child it takes only the
    child down, and the command says so in one line. TFLite Micro refusing the model says why; LiteRT
    refusing it cleanly is not an error here (TFLM is the reference: verification notes the refusal).
    """
    _trial_run("LiteRT", lambda: run_litert_reference_batch(model_bytes, samples), refusal_fatal=False)
    _trial_run("TFLite Micro", lambda: run_tflm_batch(model_bytes, samples))


def _trial_run(runtime: str, run: Callable[[], object], refusal_fatal: bool = True) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: exit 0 if the runtime ran, else send its one-line refusal through the pipe
        status = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.close(read_end)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            run()
            status = 0
        except FlynetError as exc:
            os.write(write_end, str(exc).encode())
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            refusal = pipe.read().decode(errors="replace")
        _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if os.WIFSIGNALED(status):
        crash = signal.Signals(os.WTERMSIG(status)).name
        raise FlynetError(f"{runtime} crashed on the model ({crash} in a trial run): the model is malformed in a way "
                          "flynet-tiny's checks do not catch; re-export it")
    if refusal:
        if refusal_fatal:
            raise FlynetError(refusal)
        return
    if os.WEXITSTATUS(status) != 0:
        raise FlynetError(f"{runtime} failed on the model in a trial run: re-export it")


def tflm_interpreter(model_bytes: bytes, arena_size: int = DEFAULT_ARENA):
    from tflite_micro.python.tflite_micro import runtime

    with refused_by("TFLite Micro"):
        return runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)


def run_tflm(model_bytes: bytes, inputs: Sequence[np.ndarray], arena_size: int = DEFAULT_ARENA) -> list[np.ndarray]:
    """Run one inference per batch item is the caller's job: `inputs` are the graph's input tensors."""
    return run_tflm_batch(model_bytes, [inputs], arena_size)[0]


def run_tflm_batch(model_bytes: bytes, samples: Sequence[Sequence[np.ndarray]], arena_size: int = DEFAULT_ARENA,
                   on_sample: Callable[[], None] = lambda: None) -> list[list[np.ndarray]]:
    """Run many inferences on one interpreter (TFLM models are stateless between invokes); `on_sample`
    is called after each (progress)."""
    interpreter = tflm_interpreter(model_bytes, arena_size)
    n_outputs = _io_counts(model_bytes)[1]
    results = []
    with refused_by("TFLite Micro"):
        for sample in samples:
            results.append(_invoke_tflm(interpreter, sample, n_outputs))
            on_sample()
    return results


def _invoke_tflm(interpreter, inputs: Sequence[np.ndarray], n_outputs: int) -> list[np.ndarray]:
    for i, x in enumerate(inputs):
        interpreter.set_input(np.ascontiguousarray(x), i)
    interpreter.invoke()
    return [np.array(interpreter.get_output(i)) for i in range(n_outputs)]


def random_samples(model_bytes: bytes, count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """`count` reproducible random samples, one value per graph input in its own shape and type: integers
    over the type's whole range; floats uniform over the real range of the grid their QUANTIZE maps them to
    (standard normal without one). A runtime is never left to read an input nobody set."""
    from .reader import read_tflite

    graph = read_tflite(model_bytes)
    rng = np.random.default_rng(seed)
    return [[_random_tensor(rng, graph, i) for i in graph.inputs] for _ in range(count)]


def _random_tensor(rng: np.random.Generator, graph, index: int) -> np.ndarray:
    tensor = graph.tensors[index]
    dtype = np.dtype(tensor.dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=tensor.shape, dtype=np.int64).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, tensor.shape).astype(bool)
    grid = graph.edge_quantization(index)
    if grid is tensor or grid.scale is None:
        return rng.standard_normal(tensor.shape).astype(dtype)
    info = np.iinfo(np.dtype(grid.dtype))
    scale, zero_point = float(grid.scale[0]), int(grid.zero_point[0])
    return rng.uniform((info.min - zero_point) * scale, (info.max - zero_point) * scale,
                       size=tensor.shape).astype(dtype)


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
        with refused_by("TFLite Micro"):
            details = interpreter.get_input_details(index)
        zeros.append(np.zeros(details["shape"], dtype=details["dtype"]))
    with refused_by("TFLite Micro"):
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

    with refused_by("LiteRT"):
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
