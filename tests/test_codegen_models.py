"""Whole registry models (FlyNet with MDW, ECA and light residuals; MobileNetV3-Small) through the
real export pipeline, then our generated C on real images, byte for byte against TFLite Micro."""

from pathlib import Path

import numpy as np
import pytest

from codegen_models import assert_plan_sound_and_within_tflm, exported_model
from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.tflite.interpreters import run_tflm_batch, tflm_arena_bytes

# The full CIFAR-10 test split (JPEG-decoded pixels, real images all the same): the lossless subset's
# test split holds only 79 images, and the check wants 100.
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "cifar10"
MODELS = ["flynet-h3-0.5", "mobilenetv3-small-0.5"]
IMAGES = 100


@pytest.fixture(scope="module", params=MODELS)
def exported(request):
    model_bytes, images = exported_model(request.param, DATA)
    return request.param, model_bytes, images[::len(images) // IMAGES][:IMAGES]  # every class


def test_real_model_is_bit_exact_on_real_images(exported, tmp_path):
    name, model_bytes, images = exported
    generated = generate_model_sources(model_bytes, tmp_path)
    host = HostModel(generated)
    expected = run_tflm_batch(model_bytes, [[x] for x in images])
    mismatching = sum(int(np.count_nonzero(host.invoke(x) != want[0])) for x, want in zip(images, expected))
    assert len(images) == IMAGES
    assert mismatching == 0


def test_real_model_plan_is_sound_and_within_tflm(exported, tmp_path):
    name, model_bytes, _ = exported
    generated = generate_model_sources(model_bytes, tmp_path)
    assert_plan_sound_and_within_tflm(generated, model_bytes)
    # With the PADs folded into the convs, the whole arena (kernel scratch included) is below TFLM's
    # activations; for FlyNet (Max-out in place over the C*h map) at most 0.6 of them.
    head = tflm_arena_bytes(model_bytes)["head"]
    assert generated.arena_bytes <= (0.6 if name.startswith("flynet") else 1.0) * head


def test_flynet_patterns_are_fused(exported):
    name, model_bytes, _ = exported
    kinds = [layer.kind for layer in build_ir(model_bytes).layers]
    assert "REDUCE_MAX" not in kinds and "SQUARED_DIFFERENCE" not in kinds
    if name.startswith("flynet"):
        assert kinds.count("ECA") == kinds.count("MAXOUT") > 0
