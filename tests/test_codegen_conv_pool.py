"""Generated C for the conv, depthwise, pooling and transpose-conv parameter families (issue 13) against
TFLite Micro byte for byte: the host build, the DSP build in QEMU (Cortex-M4 and M7), and the corpus models
these families unblock."""

from pathlib import Path

import numpy as np
import pytest

from conv_pool_models import GEOMETRY_MODELS
from test_codegen_arm import assert_emulated_matches_tflm
from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.tflite.interpreters import random_samples
from flynet_tiny.sim.bench import bench_tflite
from flynet_tiny.targets import load_target
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


# Corpus models that run through these kernel families (with the folding of their SHAPE-computed reshapes):
# the MLPerf Tiny global pools (ResNet-8 8x8, VWW 3x3, DS-CNN 24x5 on 25x5), micro_speech's 10x8 stride-2
# depthwise with 8 heads, stride-3/4 convs and pools with SAME overhangs, dilated (2x2, 2x3) conv and
# depthwise; both edge variants where the corpus has them.
UNBLOCKED = ["dilated_strided_int8", "dilated_strided_u8f32", "micro_speech_int8", "mlperf_dscnn_kws_int8",
             "mlperf_mobilenetv1_vww_int8", "mlperf_mobilenetv1_vww_u8f32", "mlperf_resnet8_int8",
             "mlperf_resnet8_u8f32", "strided_pools_int8", "strided_pools_u8f32"]
UNBLOCKED_QEMU = [("micro_speech_int8", "f446re"), ("mlperf_dscnn_kws_int8", "f446re"),
                  ("mlperf_resnet8_int8", "f446re"), ("strided_pools_u8f32", "f446re"),
                  ("dilated_strided_int8", "f746zg"), ("mlperf_mobilenetv1_vww_int8", "f746zg")]


@pytest.mark.parametrize("name", UNBLOCKED)
def test_unblocked_corpus_model_matches_tflm_in_the_host_build(name, tmp_path):
    model = (CORPUS / f"{name}.tflite").read_bytes()
    host = HostModel(generate_model_sources(model, tmp_path))
    samples = random_samples(model, 3, seed=4)
    for sample, expected in zip(samples, run_tflm_batch(model, samples)):
        assert [y.tobytes() for y in host.invoke_all(sample)] == [y.tobytes() for y in expected]


@pytest.mark.parametrize("name,target_name", UNBLOCKED_QEMU)
def test_unblocked_corpus_model_matches_tflm_in_qemu(name, target_name, tmp_path):
    """The DSP build (--opt speed) on the board's core in QEMU: bit-exact with the host build and TFLM."""
    model = (CORPUS / f"{name}.tflite").read_bytes()
    result = bench_tflite(model, load_target(target_name), random_samples(model, 2, seed=6), tmp_path, timeout_s=600)
    assert result.checks["host_bit_exact"] and result.checks["tflm_bit_exact"]


QEMU_CASES = [(name, "f446re") for name in sorted(GEOMETRY_MODELS)] + \
             [("conv_geometry", "f746zg"), ("depthwise_geometry", "f746zg"), ("pooling_geometry", "f746zg"),
              ("transpose_conv_head", "f746zg")]


@pytest.mark.parametrize("name,target_name", QEMU_CASES)
def test_emulated_dsp_build_matches_tflm(name, target_name, tmp_path):
    """The DSP kernel paths (the emulation build at --opt speed) on the Cortex-M4 and M7 in QEMU."""
    assert_emulated_matches_tflm(GEOMETRY_MODELS[name](), target_name, tmp_path)
