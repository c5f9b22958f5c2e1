"""Corpus models whose layers are this code generator's elementwise, activation, reduction, data-movement and
resize ops (tests/corpus/), unedited: generated C gives TFLite Micro's bytes in the host build and on the M4.

segmentation_head_* also needs TRANSPOSE_CONV: it joins this list with that kernel."""

from pathlib import Path

import pytest

from flynet_tiny.tflite.interpreters import random_samples
from flynet_tiny.sim.bench import bench_tflite
from flynet_tiny.targets import load_target
from test_codegen_io import assert_host_build_equals_tflm

CORPUS = Path(__file__).parent / "corpus"
MODELS = ["activations_int8", "activations_u8f32", "tensor_ops_int8", "tensor_ops_u8f32"]


@pytest.mark.parametrize("name", MODELS)
def test_corpus_model_is_bit_exact_with_tflm_on_the_host(name, tmp_path):
    model = (CORPUS / f"{name}.tflite").read_bytes()
    assert_host_build_equals_tflm(model, random_samples(model, 12, seed=1), tmp_path)


@pytest.mark.parametrize("name", ["activations_int8", "tensor_ops_u8f32"])
def test_corpus_model_on_the_m4_matches_tflm(name, tmp_path):
    model = (CORPUS / f"{name}.tflite").read_bytes()
    result = bench_tflite(model, load_target("f446re"), random_samples(model, 3, seed=5), tmp_path, timeout_s=300)
    assert result.checks["host_bit_exact"] and result.checks["tflm_bit_exact"]
