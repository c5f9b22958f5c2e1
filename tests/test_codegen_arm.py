"""Generated C on the real cores: the emulation build (Cortex-M4 / M7, DSP kernel paths) in QEMU
gives the bytes TFLite Micro gives on the host."""

import numpy as np
import pytest

from codegen_models import ModelMaker
from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from flynet_tiny.tflite.interpreters import run_tflm_batch


def conv_mdw_model() -> bytes:
    """3x3 and 1x1 convs (the DSP im2col path, which needs planned scratch), a PAD fused into its conv,
    MDW + Max-out, residual add."""
    m = ModelMaker(11, "arm check")
    x = m.input((1, 8, 8, 3))
    a = m.conv(m.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)]), 8, k=3, stride=2, padding="VALID", act="RELU6")
    b = m.mdw_slice_maxout(a, 3)
    c = m.conv(b, 8, k=1)
    return m.build(x, m.unary("HARD_SWISH", m.add(c, a)))


def depthwise_relu6_model() -> bytes:
    """3x3 depthwise layers with a narrowed output range (RELU6), stride 1 and 2, two heads, and an
    MDW whose depthwise has one: the DSP depthwise path's clamped C rows next to its assembly rows."""
    m = ModelMaker(12, "arm depthwise check")
    x = m.input((1, 9, 10, 6))
    a = m.depthwise(x, act="RELU6")
    b = m.depthwise(a, stride=2, multiplier=2, act="RELU6")
    return m.build(x, m.mdw_reshape_maxout_of(m.depthwise(b, multiplier=3, act="RELU6"), 3))


def padded_depthwise_model() -> bytes:
    """PAD folded into 3x3 and 5x5 depthwise and MDW layers (the kernels' explicit padding): FlyNet's
    stride-2 downsample (pads 1 all round), asymmetric and 2-deep pads, on the DSP depthwise paths."""
    m = ModelMaker(13, "arm padded depthwise check")
    x = m.input((1, 10, 9, 8))
    a = m.depthwise(m.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)]), k=3, stride=2, padding="VALID", act="RELU6")
    b = m.depthwise(m.pad(a, [(0, 0), (2, 0), (0, 2), (0, 0)]), k=3, padding="VALID")
    c = m.mdw_slice_maxout_valid(m.pad(b, [(0, 0), (1, 2), (2, 1), (0, 0)]), 3)
    return m.build(x, m.depthwise(m.pad(c, [(0, 0), (2, 2), (2, 2), (0, 0)]), k=5, stride=2, padding="VALID"))


def table_and_maxout_model() -> bytes:
    """HARD_SWISH and LOGISTIC as clamped tables (fn_lut_s8; the first on the random graph input, so
    every lane meets both clamps) on maps whose sizes leave 1 and 3 values after the 4-value words,
    and Max-out after a conv (fn_maxout_s8, in place) over 3, 2 and 5 heads."""
    m = ModelMaker(14, "arm table and maxout check")
    x = m.input((1, 5, 7, 3))
    a = m.mdw_reshape_maxout_of(m.conv(m.unary("HARD_SWISH", x), 15, k=1), 3)      # 105 values; 5 channels
    b = m.mdw_reshape_maxout_of(m.conv(a, 14, k=3), 2)                            # 7 channels
    c = m.mdw_reshape_maxout_of(m.unary("LOGISTIC", m.conv(b, 5, k=1)), 5)        # 175 values, 1 channel
    return m.build(x, m.unary("HARD_SWISH", c))                                   # 35 values


def test_emulated_tables_and_maxout_match_tflm(tmp_path):
    model = table_and_maxout_model()
    kinds = [l.kind for l in generate_model_sources(model, tmp_path / "check").layers]
    assert kinds.count("MAXOUT") == 3 and kinds.count("HARD_SWISH") == 2 and kinds.count("LOGISTIC") == 1
    assert_emulated_matches_tflm(model, "f446re", tmp_path)


def test_emulated_explicit_padding_matches_tflm(tmp_path):
    model = padded_depthwise_model()
    assert generate_model_sources(model, tmp_path / "check").layers[0].kind == "PADDED_DEPTHWISE_CONV_2D"
    assert_emulated_matches_tflm(model, "f446re", tmp_path)


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_emulated_firmware_matches_tflm(target_name, tmp_path):
    assert_emulated_matches_tflm(conv_mdw_model(), target_name, tmp_path)


def test_emulated_depthwise_with_activation_matches_tflm(tmp_path):
    assert_emulated_matches_tflm(depthwise_relu6_model(), "f446re", tmp_path)


def assert_emulated_matches_tflm(model: bytes, target_name: str, tmp_path) -> None:
    generated = generate_model_sources(model, tmp_path / "model")
    rng = np.random.default_rng(1)
    inputs = [rng.integers(-128, 128, size=generated.input_shape, dtype=np.int8) for _ in range(3)]
    target = load_target(target_name)
    firmware = build_model_firmware(generated, target, inputs, tmp_path, emulation=True)
    run = run_qemu(firmware.elf, target, timeout_s=120, plugin=False)
    run.raise_for_failure()
    expected = run_tflm_batch(model, [[x] for x in inputs])
    for i, want in enumerate(expected):
        assert run.output(i) == want[0].tobytes()
    # Every kernel layer ran once per input, in the generated order (views run no code).
    kernels = [l.index for l in generated.layers if l.kind != "RESHAPE"]
    assert [layer.index for layer in run.layers[: len(kernels)]] == kernels
