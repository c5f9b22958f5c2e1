"""The TFLite builder / reader round trip, checked by the real TFLM and LiteRT interpreters."""

import numpy as np
import pytest

from flynet_tiny.errors import FlynetError
from flynet_tiny.tflite import TFLiteBuilder, read_tflite
from flynet_tiny.tflite.interpreters import run_litert_reference, run_tflm, tflm_arena_bytes

IN_SCALE, IN_ZP, OUT_SCALE, OUT_ZP = 0.05, -3, 0.1, 5


def one_conv_model(rng):
    weights = rng.integers(-127, 128, size=(4, 3, 3, 2), dtype=np.int8)  # OHWI
    w_scales = rng.uniform(0.005, 0.02, size=4).astype(np.float32)
    bias = rng.integers(-500, 500, size=4).astype(np.int32)
    b = TFLiteBuilder("one conv")
    x = b.add_tensor("input", [1, 6, 5, 2], "int8", scale=IN_SCALE, zero_point=IN_ZP)
    w = b.add_tensor("conv/weights", weights.shape, "int8", data=weights, scale=w_scales, zero_point=0)
    bt = b.add_tensor("conv/bias", [4], "int32", data=bias, scale=IN_SCALE * w_scales, zero_point=0)
    y = b.add_tensor("output", [1, 3, 3, 4], "int8", scale=OUT_SCALE, zero_point=OUT_ZP)
    b.add_operator("CONV_2D", [x, w, bt], [y], {"padding": "SAME", "stride_w": 2, "stride_h": 2})
    b.set_io([x], [y])
    b.add_metadata("flynet.labels", b"a,b,c")
    return b.build(), weights, w_scales, bias


def float_reference(x_q, weights, w_scales, bias):
    """The real-valued conv the int8 model approximates (SAME padding, stride 2)."""
    x = (x_q.astype(np.float64) - IN_ZP) * IN_SCALE
    w = weights.astype(np.float64) * w_scales[:, None, None, None]
    pad_h = max((3 - 1) * 2 + 3 - 6, 0)
    pad_w = max((3 - 1) * 2 + 3 - 5, 0)
    xp = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((1, 3, 3, 4))
    for oy in range(3):
        for ox in range(3):
            patch = xp[0, oy * 2 : oy * 2 + 3, ox * 2 : ox * 2 + 3, :]
            out[0, oy, ox] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2])) + bias * IN_SCALE * w_scales
    return out


def test_round_trip_keeps_every_field():
    model, weights, w_scales, bias = one_conv_model(np.random.default_rng(0))
    graph = read_tflite(model)
    assert [op.opcode for op in graph.operators] == ["CONV_2D"]
    op = graph.operators[0]
    assert op.version == 3
    assert op.options["padding"] == "SAME" and op.options["stride_w"] == 2
    w = graph.tensors[op.inputs[1]]
    assert np.array_equal(w.data, weights) and np.allclose(w.scale, w_scales) and w.per_channel
    assert np.array_equal(graph.tensors[op.inputs[2]].data, bias)
    assert graph.tensors[graph.inputs[0]].zero_point.tolist() == [IN_ZP]
    assert graph.metadata == {"flynet.labels": b"a,b,c"}
    graph.require_int8()


def test_constant_buffers_are_16_byte_aligned():
    model, weights, _, bias = one_conv_model(np.random.default_rng(1))
    for blob in (weights.tobytes(), bias.tobytes()):
        assert model.find(blob) % 16 == 0


def test_tflm_and_litert_reference_agree_and_approximate_the_float_conv():
    rng = np.random.default_rng(2)
    model, weights, w_scales, bias = one_conv_model(rng)
    x = rng.integers(-128, 128, size=(1, 6, 5, 2), dtype=np.int8)
    (tflm,) = run_tflm(model, [x])
    (litert,) = run_litert_reference(model, [x])
    assert tflm.dtype == np.int8 and tflm.shape == (1, 3, 3, 4)
    assert np.array_equal(tflm, litert)
    expected = np.clip(np.round(float_reference(x, weights, w_scales, bias) / OUT_SCALE) + OUT_ZP, -128, 127)
    assert np.max(np.abs(tflm.astype(int) - expected)) <= 1


def test_tflm_arena_is_measured():
    model, *_ = one_conv_model(np.random.default_rng(3))
    first, second = tflm_arena_bytes(model), tflm_arena_bytes(model)
    assert first == second
    assert first["total"] == first["head"] + first["tail"]
    assert first["head"] >= 6 * 5 * 2 + 3 * 3 * 4  # input and output live at once


@pytest.mark.parametrize("blob", [b"", b"not a model at all", b"\x00\x00\x00\x00TFL3garbage"])
def test_reader_rejects_non_models_with_one_line(blob):
    with pytest.raises(FlynetError) as err:
        read_tflite(blob)
    assert "\n" not in str(err.value)


def test_require_int8_rejects_float_models():
    b = TFLiteBuilder()
    x = b.add_tensor("x", [1, 4], "float32")
    y = b.add_tensor("y", [1, 4], "float32")
    b.add_operator("RELU", [x], [y])
    b.set_io([x], [y])
    with pytest.raises(FlynetError, match="not quantized int8"):
        read_tflite(b.build()).require_int8()
