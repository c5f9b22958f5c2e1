"""Whole registry models (FlyNet with MDW, ECA and light residuals; MobileNetV3-Small) through the
real export pipeline, then our generated C on real images, byte for byte against TFLite Micro."""

from pathlib import Path

import numpy as np
import pytest

from codegen_models import assert_plan_sound_and_within_tflm, exported_model
from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.tflite.interpreters import run_tflm_batch, tflm_arena_bytes

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "cifar10" / "test_lossless_subset"
MODELS = ["flynet-h3-0.25", "mobilenetv3-small-0.5"]


@pytest.fixture(scope="module", params=MODELS)
def exported(request):
    model_bytes, images = exported_model(request.param, DATA)
    return request.param, model_bytes, images[:50]


def test_real_model_is_bit_exact_on_real_images(exported, tmp_path):
    name, model_bytes, images = exported
    generated = generate_model_sources(model_bytes, tmp_path)
    host = HostModel(generated)
    expected = run_tflm_batch(model_bytes, [[x] for x in images])
    mismatching = sum(int(np.count_nonzero(host.invoke(x) != want[0])) for x, want in zip(images, expected))
    assert len(images) == 50
    assert mismatching == 0


def test_real_model_plan_is_sound_and_within_tflm(exported, tmp_path):
    name, model_bytes, _ = exported
    generated = generate_model_sources(model_bytes, tmp_path)
    assert_plan_sound_and_within_tflm(generated, model_bytes)
    # With the PADs striped, the whole arena (kernel scratch included) is below TFLM's activations.
    assert generated.arena_bytes < tflm_arena_bytes(model_bytes)["head"]


def test_flynet_patterns_are_fused(exported):
    name, model_bytes, _ = exported
    kinds = [layer.kind for layer in build_ir(model_bytes).layers]
    assert "REDUCE_MAX" not in kinds and "SQUARED_DIFFERENCE" not in kinds
    if name.startswith("flynet"):
        assert kinds.count("ECA") == kinds.count("MAXOUT") > 0
