"""verify(): four runtimes on the same samples, pairwise agreement, thresholds that can fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from convert_helpers import OneLayer, calibrate_and_export
from flynet_tiny.errors import CheckFailed
from flynet_tiny.convert.to_tflite import convert_qdq_onnx
from flynet_tiny.verify.agreement import LITERT, ONNXRUNTIME, TFLM, TORCH, TORCH_INT, PairResult, Thresholds, verify
from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import tflm_arena_bytes


def classifier(seed: int) -> OneLayer:
    torch.manual_seed(seed)
    layers = {"conv": nn.Conv2d(2, 8, 3, 2, 1), "fc": nn.Linear(8, 5)}

    def body(m, x):
        y = m.q(0, torch.relu(m.layers["conv"](x)))
        y = m.q(1, nn.functional.adaptive_avg_pool2d(y, 1)).flatten(1)
        m.layers["fc"].input_quant = m.quants[1]
        return m.q(2, m.layers["fc"](y))
    return OneLayer(body, n_quant=3, layers=layers)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    model = classifier(0)
    calibrate_and_export(model, (1, 2, 8, 8), folder / "model_qdq.onnx")
    images = torch.randn(12, 2, 8, 8, generator=torch.Generator().manual_seed(5)).numpy() * 1.5
    return model, folder / "model_qdq.onnx", images


def test_all_pairs_agree_and_arena_is_measured(exported):
    model, onnx_path, images = exported
    model_bytes = convert_qdq_onnx(onnx_path)
    report = verify(model_bytes, onnx_path, model, images)
    pairs = {(p.a, p.b): p for p in report.pairs}
    assert set(pairs) == {(TORCH, ONNXRUNTIME), (TORCH, TFLM), (ONNXRUNTIME, TFLM), (TFLM, LITERT)}
    assert pairs[(TFLM, LITERT)].max_int8_diff == 0
    assert pairs[(ONNXRUNTIME, TFLM)].max_int8_diff <= onnxruntime_tflm_step_bound(model_bytes)
    assert report.passed and report.samples == 12
    assert report.arena_bytes == tflm_arena_bytes(model_bytes)
    assert set(report.to_dict()) >= {"pairs", "passed", "arena_bytes", "thresholds"}
    report.check()


def onnxruntime_tflm_step_bound(model_bytes: bytes) -> int:
    """How far onnxruntime's QDQ graph (float math, rounded per op) may be from TFLM (fixed-point
    multipliers) at the output of conv -> mean -> fc, in int8 steps.

    The two round differently only near a tie, by one step: at the conv, and at the mean (which averages
    16 conv outputs, so one of them a step off moves it by well under a step). A mean output one step
    off moves the fc's output by up to gain = max over outputs of sum |w_q| * s_in * s_w / s_out, and the
    fc rounds once more: at most floor(gain + 1) steps. Measured here: seed 0 gain 3.04, bound 4, max diff
    2; seed 1 gain 0.97, bound 1, max diff 1. A fixed `<= 3` saw 4 at seed 0 on a clean machine: which
    values land near a tie depends on float details (calibration ranges, summation order) that may differ
    between CPUs, so the test bounds what rounding can propagate instead of one machine's count."""
    graph = read_tflite(model_bytes)
    fc = next(op for op in graph.operators if op.opcode == "FULLY_CONNECTED")
    x, w, y = (graph.tensors[i] for i in (fc.inputs[0], fc.inputs[1], fc.outputs[0]))
    weights = np.abs(w.data.astype(np.int64).reshape(w.shape[0], -1))
    w_scales = np.broadcast_to(np.asarray(w.scale, dtype=np.float64), (w.shape[0],))
    gain = float((weights.sum(1) * float(x.scale[0]) * w_scales / float(y.scale[0])).max())
    return int(np.floor(gain + 1))


@pytest.mark.parametrize("seed", [0, 1])
def test_onnxruntime_and_tflm_differ_only_by_propagated_rounding(seed, tmp_path):
    model = classifier(seed)
    calibrate_and_export(model, (1, 2, 8, 8), tmp_path / "model_qdq.onnx")
    images = torch.randn(12, 2, 8, 8, generator=torch.Generator().manual_seed(5)).numpy() * 1.5
    model_bytes = convert_qdq_onnx(tmp_path / "model_qdq.onnx")
    report = verify(model_bytes, tmp_path / "model_qdq.onnx", model, images, measure_arena=False)
    steps = {(p.a, p.b): p.max_int8_diff for p in report.pairs}[(ONNXRUNTIME, TFLM)]
    assert 0 < onnxruntime_tflm_step_bound(model_bytes) <= 8  # a real bound, not a free pass
    assert steps <= onnxruntime_tflm_step_bound(model_bytes)


def test_float_edges_give_the_same_int8_outputs(exported):
    model, onnx_path, images = exported
    as_int8 = verify(convert_qdq_onnx(onnx_path, io="int8"), onnx_path, None, images, measure_arena=False)
    as_float = verify(convert_qdq_onnx(onnx_path, io="float"), onnx_path, None, images, measure_arena=False)
    assert np.array_equal(as_int8.outputs[TFLM], as_float.outputs[TFLM])
    assert np.array_equal(as_int8.outputs[LITERT], as_float.outputs[LITERT])


def test_a_different_model_fails_the_thresholds(exported, tmp_path):
    model, onnx_path, images = exported
    other = classifier(1)
    calibrate_and_export(other, (1, 2, 8, 8), tmp_path / "other.onnx")
    report = verify(convert_qdq_onnx(tmp_path / "other.onnx"), onnx_path, model, images,
                    Thresholds(min_top1_agreement=0.99, min_cosine=0.99), measure_arena=False)
    assert not report.passed
    assert any(f.startswith(f"{ONNXRUNTIME} vs {TFLM}") for f in report.failures)
    with pytest.raises(CheckFailed):
        report.check()


def test_float_rounding_pairs_have_their_own_top1_bound():
    """Pairs with a float-rounding side differ by design: 97% unless the main bound is lower."""
    def bound(a, b, **thresholds):
        return Thresholds(**thresholds).min_top1(PairResult(a, b, 1.0, 0, 1.0))
    assert bound(TORCH_INT, TFLM) == bound(TFLM, LITERT) == 0.995
    assert bound(TORCH, TFLM) == bound(ONNXRUNTIME, TFLM) == bound(TORCH, ONNXRUNTIME) == 0.97
    assert bound(ONNXRUNTIME, TFLM, min_top1_agreement=0.0) == 0.0
