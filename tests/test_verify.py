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
    # Three requantizing ops (conv, mean, fc), each at most one rounding step from float QDQ.
    assert pairs[(ONNXRUNTIME, TFLM)].max_int8_diff <= 3
    assert report.passed and report.samples == 12
    assert report.arena_bytes == tflm_arena_bytes(model_bytes)
    assert set(report.to_dict()) >= {"pairs", "passed", "arena_bytes", "thresholds"}
    report.check()


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
