"""Generated C for the conv, depthwise, pooling and transpose-conv parameter families (issue 13) against
TFLite Micro byte for byte: the host build, the DSP build in QEMU (Cortex-M4 and M7), and the corpus model
these families unblock."""

import json
from pathlib import Path

import numpy as np
import pytest

from conv_pool_models import GEOMETRY_MODELS
from test_codegen_arm import assert_emulated_matches_tflm
from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.tflite.interpreters import run_tflm_batch

CORPUS = Path(__file__).parent / "corpus"


def _host_mismatches(model: bytes, out_dir, count: int, seed: int = 0) -> tuple[int, list[np.ndarray]]:
    generated = generate_model_sources(model, out_dir)
    host = HostModel(generated)
    rng = np.random.default_rng(seed)
    inputs = [rng.integers(-128, 128, size=generated.input_shape, dtype=np.int8) for _ in range(count)]
    expected = run_tflm_batch(model, [[x] for x in inputs])
    outputs = [host.invoke(x) for x in inputs]
    return sum(int(np.count_nonzero(y != want[0])) for y, want in zip(outputs, expected)), outputs


@pytest.mark.parametrize("name", sorted(GEOMETRY_MODELS))
def test_generated_c_matches_tflm(name, tmp_path):
    mismatching, outputs = _host_mismatches(GEOMETRY_MODELS[name](), tmp_path, 8)
    assert mismatching == 0
    assert len({y.tobytes() for y in outputs}) > 1  # the inputs reach the output


def test_every_family_reaches_its_kernel(tmp_path):
    kinds = {name: [layer.kind for layer in build_ir(make()).layers] for name, make in GEOMETRY_MODELS.items()}
    assert kinds["transpose_conv_head"].count("TRANSPOSE_CONV") == 3
    assert kinds["pooling_geometry"].count("AVERAGE_POOL_2D") == 2
    model_c = generate_model_sources(GEOMETRY_MODELS["depthwise_geometry"](), tmp_path).sources[0].read_text()
    assert ".depth_multiplier = 20" in model_c and ".dilation_w = 3" in model_c and ".stride_h = 3" in model_c


def test_dilated_and_strided_corpus_model_matches_tflm(tmp_path):
    """tests/corpus/dilated_strided_int8: dilated (2x2, 2x3) conv and depthwise, stride-3/4 convs, depthwise and
    max pools, a 2x2 global average pool, as TF's converter wrote them."""
    model = (CORPUS / "dilated_strided_int8.tflite").read_bytes()
    ops = json.loads((CORPUS / "manifest.json").read_text())["models"]["dilated_strided_int8"]["ops"]
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"} <= set(ops)
    mismatching, _ = _host_mismatches(model, tmp_path, 3)
    assert mismatching == 0


QEMU_CASES = [(name, "f446re") for name in sorted(GEOMETRY_MODELS)] + \
             [("conv_geometry", "f746zg"), ("depthwise_geometry", "f746zg"), ("pooling_geometry", "f746zg"),
              ("transpose_conv_head", "f746zg")]


@pytest.mark.parametrize("name,target_name", QEMU_CASES)
def test_emulated_dsp_build_matches_tflm(name, target_name, tmp_path):
    """The DSP kernel paths (the emulation build at --opt speed) on the Cortex-M4 and M7 in QEMU."""
    assert_emulated_matches_tflm(GEOMETRY_MODELS[name](), target_name, tmp_path)
