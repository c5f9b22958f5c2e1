"""Cross-check one model in four runtimes on real samples.

    report = verify(tflite_bytes, "model_qdq.onnx", fake_quant_model, images)   # images: float NCHW
    print(report.table()); report.check()   # CheckFailed (exit 1) when a threshold is missed

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
from ..data.model_inputs import quantize, to_nhwc
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


@dataclass
class VerifyReport:
    samples: int
    pairs: list[PairResult]
    arena_bytes: dict[str, int]
    thresholds: Thresholds
    failures: list[str] = field(default_factory=list)
    outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # per runtime, int8 grid

    @property
    def passed(self) -> bool:
        return not self.failures

    def table(self) -> str:
        rows = [[f"{p.a} vs {p.b}", f"{p.top1_agreement * 100:.2f}%", f"{self.thresholds.min_top1(p) * 100:g}%",
                 p.max_int8_diff, f"{p.cosine:.6f}"] for p in self.pairs]
        return format_table(["pair", "top-1 agree", "min top-1", "max |int8 diff|", "cosine"], rows, "lrrrr")

    def to_dict(self) -> dict:
        return {"samples": self.samples, "passed": self.passed, "failures": self.failures,
                "arena_bytes": self.arena_bytes, "thresholds": asdict(self.thresholds),
                "pairs": [asdict(p) for p in self.pairs]}

    def check(self) -> None:
        if self.failures:
            raise CheckFailed(f"verification failed on {self.samples} samples: {'; '.join(self.failures)}")


def _io_params(model_bytes: bytes):
    """(input tensor, output int8 tensor params, input is float, output is float) of a model that takes
    one image and gives one output, as verification on images needs."""
    graph = read_tflite(model_bytes)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise FlynetError(f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs: verification "
                          "on images takes one of each (pass --no-verify to export it unverified)")
    t_in = graph.tensors[graph.inputs[0]]
    q_in = t_in
    if t_in.dtype == "float32":
        q_in = next((graph.tensors[op.outputs[0]] for op in graph.operators
                     if op.opcode == "QUANTIZE" and op.inputs[0] == t_in.index), t_in)
    q_out, float_out = _output_grid(graph, 0)
    if q_in.dtype != "int8" or q_in.scale is None:
        raise FlynetError(f"model tensor {q_in.name!r} is not int8: verification needs an int8 model")
    return q_in, q_out, t_in.dtype == "float32", float_out


def _output_grid(graph, position: int):
    """(the int8 tensor whose grid output `position` is on, whether the output itself is float)."""
    t_out = graph.tensors[graph.outputs[position]]
    q_out = t_out
    if t_out.dtype == "float32":
        producer = graph.producers().get(t_out.index)
        if producer is not None and producer.opcode == "DEQUANTIZE":
            q_out = graph.tensors[producer.inputs[0]]
    if q_out.dtype not in ("int8", "int16") or q_out.scale is None:
        raise FlynetError(f"model output {t_out.name!r} is {t_out.dtype}, not on an integer grid: verification "
                          "needs an int8 model (pass --no-verify to export it unverified)")
    return q_out, t_out.dtype == "float32"


def run_tflite_models(model_bytes: bytes, images: np.ndarray) -> dict[str, np.ndarray]:
    """TFLM and LiteRT-ref outputs (int8 grid, one row per image) for float NCHW images."""
    q_in, q_out, float_in, float_out = _io_params(model_bytes)
    x = to_nhwc(images.astype(np.float32))
    feeds = [[x[i:i + 1] if float_in else quantize(x[i:i + 1], q_in.scale[0], q_in.zero_point[0]).astype(np.int8)]
             for i in range(len(x))]

    def grid(y: np.ndarray) -> np.ndarray:
        return quantize(y, q_out.scale[0], q_out.zero_point[0]) if float_out else y.astype(np.int64)

    tflm = np.concatenate([grid(out[0]) for out in run_tflm_batch(model_bytes, feeds)])
    litert = np.concatenate([grid(out[0]) for out in run_litert_reference_batch(model_bytes, feeds)])
    return {TFLM: tflm, LITERT: litert}


def verify_runtimes(model_bytes: bytes, feeds: list[list[np.ndarray]], max_steps: int,
                    measure_arena: bool = True) -> VerifyReport:
    """TFLM vs LiteRT-ref on `feeds` (a value for every graph input, per sample), every output compared on
    its integer grid: the check for a `.tflite` given as it is, with no images or source model to compare to."""
    graph = read_tflite(model_bytes)
    grids = [_output_grid(graph, k) for k in range(len(graph.outputs))]
    litert = run_litert_reference_batch(model_bytes, feeds)  # first: LiteRT verifies the flatbuffer itself
    tflm = run_tflm_batch(model_bytes, feeds)
    pairs = []
    for k, (q_out, is_float) in enumerate(grids):
        scale, zero_point = float(q_out.scale[0]), int(q_out.zero_point[0])

        def grid(y: np.ndarray) -> np.ndarray:
            return quantize(y, scale, zero_point) if is_float else y.astype(np.int64)

        a = np.concatenate([grid(sample[k]).reshape(1, -1) for sample in tflm])
        b = np.concatenate([grid(sample[k]).reshape(1, -1) for sample in litert])
        pairs.append(compare(TFLM, LITERT, a, b, scale, zero_point))
    worst = PairResult(TFLM, LITERT, min(p.top1_agreement for p in pairs), max(p.max_int8_diff for p in pairs),
                       min(p.cosine for p in pairs))
    thresholds = Thresholds(min_top1_agreement=0.0, min_cosine=0.0, max_tflm_litert_steps=max_steps)
    report = VerifyReport(len(feeds), [worst], tflm_arena_bytes(model_bytes) if measure_arena else {}, thresholds)
    if worst.max_int8_diff > max_steps:
        where = f" (over {len(pairs)} outputs)" if len(pairs) > 1 else ""
        report.failures.append(f"{TFLM} vs {LITERT} differ by {worst.max_int8_diff} steps{where} > {max_steps} "
                               f"on {len(feeds)} random inputs")
    return report


def run_onnx_qdq(onnx_path: str | Path, images: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: images[i:i + 1].astype(np.float32)})[0]
                           for i in range(len(images))])


def verify(model_bytes: bytes, qdq_onnx_path: str | Path | None, fake_quant_model: Callable | None,
           images: np.ndarray, thresholds: Thresholds = Thresholds(), measure_arena: bool = True) -> VerifyReport:
    """Compare every available runtime on `images` (float, NCHW, as the PyTorch model takes them)."""
    if len(images) == 0:
        raise FlynetError("no samples to verify on: pass --verify-samples 1 or more")
    _, q_out, _, _ = _io_params(model_bytes)
    scale, zero_point = float(q_out.scale[0]), int(q_out.zero_point[0])
    outputs = run_tflite_models(model_bytes, images)
    if qdq_onnx_path is not None:
        outputs[ONNXRUNTIME] = quantize(to_nhwc(run_onnx_qdq(qdq_onnx_path, images)), scale, zero_point)
    if fake_quant_model is not None:
        outputs[TORCH] = quantize(to_nhwc(_run_torch(fake_quant_model, images)), scale, zero_point)
        if hasattr(fake_quant_model, "integer_mode"):  # a QuantizedModel
            with fake_quant_model.integer_mode():
                outputs[TORCH_INT] = quantize(to_nhwc(_run_torch(fake_quant_model, images)), scale, zero_point)
    pairs = [compare(a, b, outputs[a], outputs[b], scale, zero_point) for a, b in PAIRS
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


def _run_torch(model: Callable, images: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(images[i:i + 64].astype(np.float32))).numpy()
                               for i in range(0, len(images), 64)])


def compare(a: str, b: str, ya: np.ndarray, yb: np.ndarray, scale: float, zero_point: int) -> PairResult:
    n = len(ya)
    fa = (ya.reshape(n, -1) - zero_point) * scale
    fb = (yb.reshape(n, -1) - zero_point) * scale
    top1 = float(np.mean(fa.argmax(1) == fb.argmax(1)))
    norms = np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1)
    cosines = np.where(norms > 0, (fa * fb).sum(1) / np.where(norms > 0, norms, 1), 1.0)
    return PairResult(a, b, top1, int(np.abs(ya - yb).max()), float(cosines.mean()))


