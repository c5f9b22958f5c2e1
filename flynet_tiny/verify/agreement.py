"""Cross-check one model in four runtimes on real samples.

    report = verify(tflite_bytes, "model_qdq.onnx", fake_quant_model, images)   # images: float NCHW
    print(report.table()); report.check()   # CheckFailed (exit 1) when a threshold is missed

    report = verify_tflite(tflite_bytes, samples)   # a .tflite flynet-tiny did not convert

For a model we converted, every pair is held to the thresholds. For a .tflite from elsewhere there is
no PyTorch or ONNX twin: TFLite Micro's interpreter is the reference (the code generator is bit-exact
with it), LiteRT's reference kernels are compared and reported, not held to a bound (the two disagree
by several steps on some published models), and a model LiteRT refuses to load is noted, not fatal.

Runtimes: PyTorch in its integer mode (QuantizedModel.integer_mode: TFLM's fixed-point arithmetic
on the fake-quant graph) and its fake-quant mode, onnxruntime on the QDQ graph, TFLite Micro's
interpreter (the reference we are bit-exact with) and LiteRT with its reference kernels. Every
output is compared on the int8 grid of the TFLite output tensor. Per pair: top-1 agreement, max
|int8 difference|, mean cosine similarity of the dequantized outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import CheckFailed, FlynetError
from ..reporting import format_table
from ..data.model_inputs import int8_model_inputs, quantize, to_nhwc
from ..tflite import read_tflite
from ..tflite.interpreters import run_litert_reference_batch, run_tflm_batch, tflm_arena_bytes

TORCH_INT, TORCH, ONNXRUNTIME, TFLM, LITERT = (
    "pytorch-int", "pytorch-fakequant", "onnxruntime-qdq", "tflm", "litert-ref")
# Every pair is held to min_cosine; TFLM vs LiteRT-ref also to max steps. Top-1: the pairs computing
# the same integer arithmetic to min_top1_agreement, the pairs with a float-rounding side (fake quant,
# onnxruntime's QDQ graph) to min_top1_float_rounding.
FLOAT_ROUNDING = [(TORCH, ONNXRUNTIME), (TORCH, TFLM), (ONNXRUNTIME, TFLM)]
PAIRS = [(TORCH_INT, TFLM), (TFLM, LITERT), *FLOAT_ROUNDING]

# The integer mode computes what TFLM computes (bundled FlyNet, 10k Fashion-MNIST test images: 100%
# top-1 agreement, every output byte equal); LiteRT-ref vs TFLM: 100%, at most 1 step apart.
DEFAULT_MIN_TOP1 = 0.995
# Fake quant (and the QDQ graph in onnxruntime, its twin) rounds each op's float result; TFLM computes
# hard-swish, mean, softmax, ... in fixed point. They differ by 1-3 steps on a few values and the
# variance-aware ECA amplifies that (bundled FlyNet, 10k test images: 98.89% top-1 agreement, equal
# accuracy). Fake quant vs onnxruntime differ only where a float sum lands on a .5 tie (99.75%, the
# ECA again). A converter bug lands far below this line; onnxruntime vs TFLM is the only check of the
# converter when verify has no PyTorch model (`flynet-tiny verify`, `export --onnx`).
DEFAULT_MIN_TOP1_FLOAT_ROUNDING = 0.97


@dataclass(frozen=True)
class Thresholds:
    min_top1_agreement: float = DEFAULT_MIN_TOP1
    min_cosine: float = 0.99
    max_tflm_litert_steps: int = 2
    min_top1_float_rounding: float = DEFAULT_MIN_TOP1_FLOAT_ROUNDING

    def min_top1(self, pair: "PairResult") -> float:
        """The pair's top-1 bound; a lower min_top1_agreement (e.g. 0: no top-1 check) lowers both."""
        if (pair.a, pair.b) in FLOAT_ROUNDING:
            return min(self.min_top1_float_rounding, self.min_top1_agreement)
        return self.min_top1_agreement


@dataclass
class PairResult:
    a: str
    b: str
    top1_agreement: float
    max_int8_diff: int
    cosine: float
    output: str | None = None  # which model output, for a model with several




@dataclass
class VerifyReport:
    samples: int
    pairs: list[PairResult]
    arena_bytes: dict[str, int]
    thresholds: Thresholds
    failures: list[str] = field(default_factory=list)
    # per runtime, one array per model output (a row per sample), on the output's integer grid
    outputs: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)  # what could not be compared, and why
    reference: str | None = None  # the runtime the others are checked against, when not all pairs are bounded

    @property
    def passed(self) -> bool:
        return not self.failures

    def table(self) -> str:
        bounded = self.reference is None
        rows = [[f"{p.a} vs {p.b}" + (f" [{p.output}]" if p.output else ""), f"{p.top1_agreement * 100:.2f}%",
                 f"{self.thresholds.min_top1(p) * 100:g}%" if bounded else "reported", p.max_int8_diff,
                 f"{p.cosine:.6f}"] for p in self.pairs]
        text = format_table(["pair", "top-1 agree", "min top-1", "max |int8 diff|", "cosine"], rows, "lrrrr")
        if self.reference is not None:
            text += f"\nreference: {self.reference}"
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])

    def to_dict(self) -> dict:
        return {"samples": self.samples, "passed": self.passed, "failures": self.failures,
                "arena_bytes": self.arena_bytes, "thresholds": asdict(self.thresholds),
                "pairs": [asdict(p) for p in self.pairs], "notes": self.notes, "reference": self.reference}

    def check(self) -> None:
        if self.failures:
            raise CheckFailed(f"verification failed on {self.samples} samples: {'; '.join(self.failures)}")


@dataclass(frozen=True)
class OutputGrid:
    """A model output on its integer grid: a float32 output is mapped back through its DEQUANTIZE."""

    name: str
    scale: float
    zero_point: int
    is_float: bool

    def grid(self, y: np.ndarray) -> np.ndarray:
        return quantize(y, self.scale, self.zero_point) if self.is_float else y.astype(np.int64)


def output_grids(model_bytes: bytes) -> list[OutputGrid]:
    graph = read_tflite(model_bytes)
    grids = []
    for index in graph.outputs:
        tensor, quantized = graph.tensors[index], graph.edge_quantization(index)
        if quantized.dtype not in ("int8", "uint8") or quantized.scale is None:
            raise FlynetError(f"model output {tensor.name!r} is {tensor.dtype} without an int8 grid: "
                              "verification needs a quantized model")
        grids.append(OutputGrid(tensor.name, float(quantized.scale[0]), int(quantized.zero_point[0]),
                                tensor.dtype == "float32"))
    return grids


def _on_grids(model_bytes: bytes, results: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per-sample runtime outputs -> one array per model output, a row per sample."""
    return [np.concatenate([grid.grid(outs[k]) for outs in results])
            for k, grid in enumerate(output_grids(model_bytes))]


def run_tflite_models(model_bytes: bytes, samples: list[list[np.ndarray]], notes: list[str] | None = None,
                      on_sample: Callable[[], None] = lambda: None) -> dict[str, list[np.ndarray]]:
    """TFLM and LiteRT-ref outputs on `samples` (one array per model input, in the model's types): per
    runtime, one array per model output on its integer grid. LiteRT refusing the model is noted in
    `notes` when given (else raised): TFLM runs files LiteRT no longer loads. `on_sample` is called after
    each inference of each runtime (progress)."""
    try:
        tflm = run_tflm_batch(model_bytes, samples, on_sample=on_sample)
    except RuntimeError as exc:  # the interpreter's own message: an op it lacks, an arena too small, ...
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        raise FlynetError(f"TFLite Micro could not run the model ({first}): it is the reference, so the model "
                          "cannot be verified") from exc
    outputs = {TFLM: _on_grids(model_bytes, tflm)}
    try:
        litert = run_litert_reference_batch(model_bytes, samples, on_sample)
    except Exception as exc:  # LiteRT's loader raises RuntimeError / ValueError with its own text
        if notes is None:
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        notes.append(f"{LITERT} refused the model ({first}); TFLM alone checked it")
        return outputs
    outputs[LITERT] = _on_grids(model_bytes, litert)
    return outputs


def run_onnx_qdq(onnx_path: str | Path, images: np.ndarray, on_sample: Callable[[], None] = lambda: None
                 ) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one image at a time: threads only wait for each other
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = []
    for i in range(len(images)):
        outputs.append(session.run(None, {name: images[i:i + 1].astype(np.float32)})[0])
        on_sample()
    return np.concatenate(outputs)


def verify(model_bytes: bytes, qdq_onnx_path: str | Path | None, fake_quant_model: Callable | None,
           images: np.ndarray, thresholds: Thresholds = Thresholds(), measure_arena: bool = True,
           progress: bool = False) -> VerifyReport:
    """Compare every available runtime on `images` (float, NCHW, as the PyTorch model takes them) fed to a
    one-input, one-output model flynet-tiny converted; with `progress`, one bar on stderr over every
    runtime's images."""
    from ..reporting import progress_bar

    if len(images) == 0:
        raise FlynetError("no samples to verify on: pass --verify-samples 1 or more")
    (out,) = output_grids(model_bytes)
    integer = hasattr(fake_quant_model, "integer_mode")  # a QuantizedModel
    runtimes = [TFLM, LITERT] + [ONNXRUNTIME] * (qdq_onnx_path is not None) + \
        [TORCH] * (fake_quant_model is not None) + [TORCH_INT] * integer
    with progress_bar(len(runtimes) * len(images), f"verifying on {len(runtimes)} runtimes", progress, "img") as bar:
        def one() -> None:
            bar.update(1)

        outputs = run_tflite_models(model_bytes, [[x] for x in int8_model_inputs(model_bytes, images)], on_sample=one)
        if qdq_onnx_path is not None:
            outputs[ONNXRUNTIME] = [quantize(to_nhwc(run_onnx_qdq(qdq_onnx_path, images, one)), out.scale,
                                             out.zero_point)]
        if fake_quant_model is not None:
            outputs[TORCH] = [quantize(to_nhwc(_run_torch(fake_quant_model, images, bar.update)), out.scale,
                                       out.zero_point)]
        if integer:
            with fake_quant_model.integer_mode():
                outputs[TORCH_INT] = [quantize(to_nhwc(_run_torch(fake_quant_model, images, bar.update)), out.scale,
                                               out.zero_point)]
    pairs = [compare(a, b, outputs[a][0], outputs[b][0], out.scale, out.zero_point) for a, b in PAIRS
             if a in outputs and b in outputs]
    report = VerifyReport(len(images), pairs, tflm_arena_bytes(model_bytes) if measure_arena else {}, thresholds,
                          outputs=outputs)
    for p in pairs:
        label = f"{p.a} vs {p.b}"
        min_top1 = thresholds.min_top1(p)
        if p.top1_agreement < min_top1:
            report.failures.append(f"{label} top-1 agreement {p.top1_agreement:.4f} < {min_top1}")
        if p.cosine < thresholds.min_cosine:
            report.failures.append(f"{label} cosine {p.cosine:.4f} < {thresholds.min_cosine}")
        if (p.a, p.b) == (TFLM, LITERT) and p.max_int8_diff > thresholds.max_tflm_litert_steps:
            report.failures.append(f"{label} differ by {p.max_int8_diff} int8 steps "
                                   f"> {thresholds.max_tflm_litert_steps}")
    return report


def verify_tflite(model_bytes: bytes, samples: list[list[np.ndarray]], measure_arena: bool = True) -> VerifyReport:
    """A .tflite flynet-tiny did not convert, on `samples` (one array per input, in the model's own types):
    TFLM is the reference; LiteRT-ref is compared on every output and reported, never failed."""
    if not samples:
        raise FlynetError("no samples to verify on: pass --verify-samples 1 or more")
    notes: list[str] = []
    outputs = run_tflite_models(model_bytes, samples, notes)
    grids = output_grids(model_bytes)
    pairs = []
    if LITERT in outputs:
        for k, grid in enumerate(grids):
            pair = compare(TFLM, LITERT, outputs[TFLM][k], outputs[LITERT][k], grid.scale, grid.zero_point)
            pair.output = grid.name if len(grids) > 1 else None
            pairs.append(pair)
    return VerifyReport(len(samples), pairs, tflm_arena_bytes(model_bytes) if measure_arena else {},
                        Thresholds(min_top1_agreement=0.0, min_cosine=0.0), outputs=outputs, notes=notes,
                        reference=f"{TFLM} (a model flynet-tiny did not convert: {LITERT} is reported, not bounded)")


def _run_torch(model: Callable, images: np.ndarray, on_batch: Callable[[int], object] = lambda n: None) -> np.ndarray:
    """The model on `images` in batches of 64, on one torch thread: two on a busy 2-core machine spin and wait
    (8x the CPU time for the integer mode)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    outputs = []
    try:
        with torch.no_grad():
            for i in range(0, len(images), 64):
                outputs.append(model(torch.from_numpy(images[i:i + 64].astype(np.float32))).numpy())
                on_batch(len(outputs[-1]))
    finally:
        torch.set_num_threads(threads)
    return np.concatenate(outputs)


def compare(a: str, b: str, ya: np.ndarray, yb: np.ndarray, scale: float, zero_point: int) -> PairResult:
    n = len(ya)
    fa = (ya.reshape(n, -1) - zero_point) * scale
    fb = (yb.reshape(n, -1) - zero_point) * scale
    top1 = float(np.mean(fa.argmax(1) == fb.argmax(1)))
    norms = np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1)
    cosines = np.where(norms > 0, (fa * fb).sum(1) / np.where(norms > 0, norms, 1), 1.0)
    return PairResult(a, b, top1, int(np.abs(ya - yb).max()), float(cosines.mean()))


