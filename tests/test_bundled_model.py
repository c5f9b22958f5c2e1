"""The bundled FlyNet end to end: its export with no arguments, and the generated C against TFLite
Micro on 100 real Fashion-MNIST test images (the bundled samples), byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.data.model_inputs import int8_model_inputs
from flynet_tiny.pipeline.export import ExportRequest, export
from flynet_tiny.resources import BUNDLED_CHECKPOINT, BUNDLED_SAMPLES
from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import run_tflm_batch
from flynet_tiny.data.datasets import load_dataset, normalize

IMAGES = 100


@pytest.fixture(scope="module")
def bundled_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundled") / "export"
    report = export(ExportRequest(out=out, verify_samples=IMAGES))
    return out, report


def test_bundled_export_needs_no_arguments_and_verifies(bundled_export):
    out, report = bundled_export
    assert BUNDLED_CHECKPOINT.is_file() and BUNDLED_CHECKPOINT.stat().st_size < 2 * 1024 * 1024
    assert report["verification"]["passed"] and report["verification"]["samples"] == IMAGES
    tflm_litert = next(p for p in report["verification"]["pairs"] if {p["a"], p["b"]} == {"tflm", "litert-ref"})
    assert tflm_litert["max_int8_diff"] <= 2
    graph = read_tflite((out / "model_int8.tflite").read_bytes())
    assert {"TRANSPOSE", "CUSTOM"}.isdisjoint(graph.op_counts())
    assert report["metadata"]["input_size"] == 32 and len(report["metadata"]["classes"]) == 10


def test_generated_c_is_bit_exact_with_tflm_on_100_real_images(bundled_export, tmp_path):
    out, _ = bundled_export
    model_bytes = (out / "model_int8.tflite").read_bytes()
    test_set = load_dataset(BUNDLED_SAMPLES, "test", input_size=32, in_channels=1)
    inputs = int8_model_inputs(model_bytes, normalize(test_set.images[:IMAGES]).numpy())
    host = HostModel(generate_model_sources(model_bytes, tmp_path / "c"))
    expected = run_tflm_batch(model_bytes, [[x] for x in inputs])
    mismatching = sum(int(np.count_nonzero(host.invoke(x) != want[0])) for x, want in zip(inputs, expected))
    assert len(inputs) == IMAGES
    assert mismatching == 0
