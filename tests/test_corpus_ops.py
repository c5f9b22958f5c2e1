"""Corpus models whose layers are this code generator's elementwise, activation, reduction, data-movement and
resize ops (tests/corpus/): generated C, unedited model, TFLite Micro's bytes on the host and on the M4.

tensor_ops_* and the u8f32 variants also need the SHAPE -> STRIDED_SLICE -> PACK folding and the
QUANTIZE / DEQUANTIZE edges; segmentation_head_* TRANSPOSE_CONV: they join this list with those."""

from pathlib import Path

import numpy as np
import pytest

from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.tflite.interpreters import run_tflm_batch
from test_codegen_arm import assert_emulated_matches_tflm

CORPUS = Path(__file__).parent / "corpus"
MODELS = ["activations_int8"]


def random_inputs(shape, count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]


@pytest.mark.parametrize("name", MODELS)
def test_corpus_model_is_bit_exact_with_tflm_on_the_host(name, tmp_path):
    model = (CORPUS / f"{name}.tflite").read_bytes()
    generated = generate_model_sources(model, tmp_path)
    host = HostModel(generated)
    inputs = random_inputs(generated.input_shape, 20, seed=1)
    expected = run_tflm_batch(model, [[x] for x in inputs])
    assert all(np.array_equal(host.invoke(x), want[0]) for x, want in zip(inputs, expected))


@pytest.mark.parametrize("name", MODELS)
def test_corpus_model_on_the_m4_matches_tflm(name, tmp_path):
    assert_emulated_matches_tflm((CORPUS / f"{name}.tflite").read_bytes(), "f446re", tmp_path)
