"""The code generator's elementwise, activation, reduction, data-movement and resize layers: generated C
built for the host gives TFLite Micro's bytes on few-op models of each family (tests/ops_models.py)."""

import numpy as np
import pytest

from codegen_models import assert_plan_sound_and_within_tflm
from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.errors import FlynetError
from flynet_tiny.tflite.interpreters import run_litert_reference_batch, run_tflm_batch
from ops_models import OPS_MODELS, OpsMaker

SAMPLES = 20


def random_inputs(shape, count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]


def host_outputs(model: bytes, tmp_path, inputs):
    generated = generate_model_sources(model, tmp_path)
    host = HostModel(generated)
    return generated, [host.invoke(x) for x in inputs]


@pytest.mark.parametrize("name", sorted(OPS_MODELS))
def test_generated_c_is_bit_exact_with_tflm(name, tmp_path):
    model = OPS_MODELS[name]()
    generated = generate_model_sources(model, tmp_path)
    inputs = random_inputs(generated.input_shape, SAMPLES)
    _, got = host_outputs(model, tmp_path, inputs)
    expected = run_tflm_batch(model, [[x] for x in inputs])
    assert all(np.array_equal(g, e[0]) for g, e in zip(got, expected))
    assert_plan_sound_and_within_tflm(generated, model)


def test_layers_are_the_expected_kernels_and_views(tmp_path):
    kinds = {name: [l.kind for l in build_ir(make()).layers] for name, make in OPS_MODELS.items()}
    assert kinds["activations"] == ["LEAKY_RELU", "RELU", "TANH", "LEAKY_RELU", "RELU6", "RELU6", "MAXIMUM", "RELU",
                                    "HARD_SWISH", "PRELU", "PRELU"]
    assert kinds["data_movement"].count("SPLIT") == 1 and kinds["data_movement"].count("SPLIT_V") == 1
    text = {}
    for name in ("activations", "data_movement"):
        generate_model_sources(OPS_MODELS[name](), tmp_path / name)
        text[name] = (tmp_path / name / "model.c").read_text()
    # Tables for LEAKY_RELU (2), RELU, TANH, HARD_SWISH; a clamp for both RELU6 (TFLM ignores their output
    # quantization) and the MAXIMUM with a one-value constant; the identity RELU and the transposes that
    # only move axes of size 1 copy nothing.
    assert text["activations"].count("fn_lut_s8(") == 5 and text["activations"].count("fn_clamp_s8(") == 3
    assert text["activations"].count("the identity: a view") == 1
    assert text["data_movement"].count("fn_transpose_s8(") == 1
    assert "fn_strided_slice_s8(" in text["data_movement"] and "fn_slice_s8(" in text["data_movement"]


def test_relu_n1_to_1_matches_litert(tmp_path):
    """TFLite Micro has no RELU_N1_TO_1: the reference is LiteRT's kernel."""
    m = OpsMaker(25, "relu n1 to 1")
    x = m.input((1, 8, 8, 4))
    y = m.activation("RELU_N1_TO_1", m.activation("RELU_N1_TO_1", x, 0.002 / m.scale(x)), 3.0)
    model = m.build(x, y)
    inputs = random_inputs((1, 8, 8, 4), 10, seed=3)
    _, got = host_outputs(model, tmp_path, inputs)
    expected = run_litert_reference_batch(model, [[x] for x in inputs])
    assert all(np.array_equal(g, e[0]) for g, e in zip(got, expected))


def _refused(model: bytes, tmp_path, message: str) -> None:
    with pytest.raises(FlynetError, match=message):
        generate_model_sources(model, tmp_path)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing half-written


def test_configurations_tflm_refuses_or_ignores_are_refused_naming_the_layer(tmp_path):
    m = OpsMaker(26, "ellipsis")
    x = m.input((1, 4, 4, 2))
    y = m.strided_slice(x, (0, 0, 0, 0), (1, 4, 4, 2), (1, 2, 1, 1), (1, 2, 4, 2), ellipsis_mask=1)
    _refused(m.build(x, y), tmp_path / "a", r"operator 0 \(STRIDED_SLICE, output 'strided_slice_\d+'\): it uses an "
             r"ellipsis or new-axis mask or offset, which TFLite Micro does not support")
    m = OpsMaker(27, "concat")
    x = m.input((1, 4, 4, 2))
    other = m.activation("LEAKY_RELU", x, 0.5, {"alpha": 0.2})
    _refused(m.build(x, m.concat([x, other], 3)), tmp_path / "b", r"layer #1 CONCATENATION .*quantized unlike the output")
    m = OpsMaker(28, "reduce max")
    x = m.input((1, 4, 4, 2))
    y = m.tensor((1, 4, 4, 1), m.scale(x) * 2, 0, name="max")
    m.b.add_operator("REDUCE_MAX", [x, m.b.add_constant("axis", np.array([3], dtype=np.int32))], [y],
                     {"keep_dims": True})
    _refused(m.build(x, y), tmp_path / "c", r"layer #0 REDUCE_MAX \('max'\): REDUCE_MAX to another quantization")
    m = OpsMaker(29, "resize")
    x = m.input((1, 4, 4, 2))
    y = m.resize("RESIZE_BILINEAR", x, (8, 8), align_corners=True, half_pixel_centers=True)
    _refused(m.build(x, y), tmp_path / "d", r"align_corners with half_pixel_centers \(TFLM refuses it\)")
