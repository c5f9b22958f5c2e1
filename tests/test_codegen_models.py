"""Whole registry models (FlyNet with MDW, ECA and light residuals; MobileNetV3-Small) through the
real export pipeline, then our generated C on real RGB images, byte for byte against TFLite Micro."""

import numpy as np
import pytest

from codegen_models import assert_plan_sound_and_within_tflm, exported_model
from sample_data import write_rgb_class_tree
from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.tflite.interpreters import run_tflm_batch, tflm_arena_bytes

MODELS = ["flynet-h3-0.5", "mobilenetv3-small-0.5"]
IMAGES = 100


@pytest.fixture(scope="module")
def rgb_images(tmp_path_factory):
    """RGB 32x32 images in three different channels, made from the 256 bundled test images."""
    return write_rgb_class_tree(tmp_path_factory.mktemp("rgb"))


@pytest.fixture(scope="module", params=MODELS)
def exported(request, rgb_images):
    model_bytes, images = exported_model(request.param, rgb_images)
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
