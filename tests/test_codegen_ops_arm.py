"""The elementwise, activation, reduction, data-movement and resize layers on the Cortex-M4: each family's
few-op model (tests/ops_models.py), generated, built for the F446RE's emulation firmware (DSP paths) and
run in QEMU, gives TFLite Micro's bytes."""

import pytest

from ops_models import OPS_MODELS
from test_codegen_arm import assert_emulated_matches_tflm


@pytest.mark.parametrize("name", sorted(OPS_MODELS))
def test_family_model_on_the_m4_matches_tflm(name, tmp_path):
    assert_emulated_matches_tflm(OPS_MODELS[name](), "f446re", tmp_path)
