"""Fused mean-and-variance-aware ECA equals TFLM running the op chain the converter emits."""

import numpy as np
import pytest

from flynet_tiny.codegen import quant_params as qp
from flynet_tiny.codegen.build import build_model_firmware, random_inputs
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_kernels import KernelError
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import TFLiteBuilder
from oneop_models import random_int8, random_scale, random_zero_point, tflm


def eca_chain_model(shape, x_q, stat_q, sqdiff_q, kernel, kernel_scale, bias, score_q, y_q, use_softmax, heads, beta):
    """MEAN, SQUARED_DIFFERENCE, MEAN, RESHAPE+CONCATENATION, CONV_2D, RESHAPE, LOGISTIC|SOFTMAX, MUL."""
    n, h, w, c = shape
    attn_q = (qp.ATTENTION_SCALE, qp.ATTENTION_ZERO_POINT)
    b = TFLiteBuilder("eca chain")

    def t(name, dims, q):
        return b.add_tensor(name, dims, "int8", scale=q[0], zero_point=q[1])

    def reshape(src, dims, q, name):
        dst = t(name, dims, q)
        b.add_operator("RESHAPE", [src, b.add_constant(name + "_shape", np.array(dims, dtype=np.int32))], [dst],
                       {"new_shape": list(dims)})
        return dst

    axes = b.add_constant("axes", np.array([1, 2], dtype=np.int32))
    x = t("x", shape, x_q)
    mean = t("mean", (n, 1, 1, c), stat_q)
    b.add_operator("MEAN", [x, axes], [mean], {"keep_dims": True})
    sqd = t("sqdiff", shape, sqdiff_q)
    b.add_operator("SQUARED_DIFFERENCE", [x, mean], [sqd])
    var = t("var", (n, 1, 1, c), stat_q)
    b.add_operator("MEAN", [sqd, axes], [var], {"keep_dims": True})
    stats = t("stats", (n, 1, c, 2), stat_q)
    b.add_operator("CONCATENATION", [reshape(mean, (n, 1, c, 1), stat_q, "mean_col"),
                                     reshape(var, (n, 1, c, 1), stat_q, "var_col")], [stats], {"axis": 3})
    k = b.add_tensor("k", (1, 1, len(kernel) // 2, 2), "int8", data=np.asarray(kernel, np.int8).reshape(1, 1, -1, 2),
                     scale=[kernel_scale], zero_point=[0])
    kb = b.add_tensor("kb", (1,), "int32", data=np.array([bias], np.int32),
                      scale=[float(np.float32(stat_q[0]) * np.float32(kernel_scale))], zero_point=[0])
    score = t("score", (n, 1, c, 1), score_q)
    b.add_operator("CONV_2D", [stats, k, kb], [score], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    if use_softmax:
        grouped = reshape(score, (n, c // heads, heads), score_q, "grouped")
        attn_g = t("attn_g", (n, c // heads, heads), attn_q)
        b.add_operator("SOFTMAX", [grouped], [attn_g], {"beta": beta})
        attn = reshape(attn_g, (n, 1, 1, c), attn_q, "attn")
    else:
        attn_flat = t("attn_flat", (n, 1, c, 1), attn_q)
        b.add_operator("LOGISTIC", [score], [attn_flat])
        attn = reshape(attn_flat, (n, 1, 1, c), attn_q, "attn")
    y = t("y", shape, y_q)
    b.add_operator("MUL", [x, attn], [y])
    b.set_io([x], [y])
    return b.build()


def random_eca_case(seed, max_hw=8, max_groups=6, max_channels=14):
    """A random ECA chain (logistic for even seeds, softmax for odd) and the kernel's parameters."""
    rng = np.random.default_rng(seed)
    use_softmax = seed % 2 == 1
    heads = int(rng.integers(2, 5)) if use_softmax else 1
    c = heads * int(rng.integers(1, max_groups)) if use_softmax else int(rng.integers(1, max_channels))
    shape = (1, int(rng.integers(1, max_hw)), int(rng.integers(1, max_hw)), c)
    z = int(rng.choice([1, 3, 5, 7]))
    x_q = (random_scale(rng, 0.01, 0.1), random_zero_point(rng))
    stat_q = (random_scale(rng, 0.01, 0.1), random_zero_point(rng))
    sqdiff_q = (random_scale(rng, 0.001, 0.05), random_zero_point(rng))
    score_q = (random_scale(rng, 0.02, 0.2), random_zero_point(rng))
    y_q = (random_scale(rng, 0.01, 0.1), random_zero_point(rng))
    kernel = rng.integers(-127, 128, size=2 * z).astype(np.int8)
    kernel_scale = random_scale(rng, 0.005, 0.05)
    bias = int(rng.integers(-2000, 2000))
    beta = float(rng.choice([1.0, 1.0 / 3]))
    model = eca_chain_model(shape, x_q, stat_q, sqdiff_q, kernel, kernel_scale, bias, score_q, y_q, use_softmax,
                            heads, beta)
    params = qp.eca_params(x_q, stat_q, sqdiff_q, kernel_scale, z, bias, score_q, y_q, use_softmax, heads, beta)
    return rng, shape, kernel, model, params


@pytest.mark.parametrize("seed", range(8))
def test_eca_matches_tflm_chain(kernels, seed):
    rng, shape, kernel, model, params = random_eca_case(seed)
    x = random_int8(rng, shape)
    expected = tflm(model, [x])[0]
    for in_place in (False, True):
        got = kernels.eca(x, params, kernel, in_place=in_place)
        assert np.count_nonzero(got != expected) == 0


def test_eca_scratch_is_three_vectors_and_rejects_even_kernels(kernels):
    assert kernels.eca_scratch_bytes((1, 14, 14, 48)) == 3 * 48
    params = qp.eca_params((0.05, 0), (0.05, 0), (0.01, 0), 0.01, 4, 0, (0.1, 0), (0.05, 0))
    with pytest.raises(KernelError, match="FN_ERR_UNSUPPORTED"):
        kernels.eca(np.zeros((1, 3, 3, 5), np.int8), params, np.zeros(8, np.int8))


@pytest.mark.parametrize("seed", [0, 1])
def test_eca_dsp_build_in_qemu_matches_tflm(seed, tmp_path):
    """The Cortex-M4 build (the SMMULR paths) in QEMU on the fused chain, logistic and softmax."""
    _, shape, _, model, _ = random_eca_case(seed, max_hw=12, max_groups=12, max_channels=40)
    generated = generate_model_sources(model, tmp_path / "model")
    assert [layer.kind for layer in generated.layers if layer.kind != "RESHAPE"] == ["ECA"]
    target = load_target("f446re")
    inputs = random_inputs(shape, 3, seed)
    firmware = build_model_firmware(generated, target, inputs, tmp_path, emulation=True)
    run = run_qemu(firmware.elf, target, timeout_s=120, plugin=False)
    run.raise_for_failure()
    for i, want in enumerate(tflm(model, [x])[0] for x in inputs):
        assert run.output(i) == want.tobytes()
