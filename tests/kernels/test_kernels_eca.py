"""Fused mean-and-variance-aware ECA equals TFLM running the op chain the converter emits."""

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.data.model_inputs import random_inputs
from eca_chain import eca_chain_model
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_kernels import KernelError
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from oneop_models import random_int8, random_scale, random_zero_point, tflm


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


# Scales whose squared-difference and MUL requantizations shift left (no SMMULR form): the DSP
# build's general path.
LEFT_SHIFT_QUANT = dict(x_q=(0.1, 3), stat_q=(0.05, -2), sqdiff_q=(1e-6, -100), kernel_scale=0.01, bias=50,
                        score_q=(0.1, 0), y_q=(0.0004, 5), beta=1.0)


@pytest.mark.parametrize("case", ["logistic", "softmax", "left shifts"])
def test_eca_dsp_build_in_qemu_matches_tflm(case, tmp_path):
    """The Cortex-M4 build in QEMU on fused chains: the SMMULR paths (logistic, softmax) and the general one."""
    if case == "left shifts":
        shape, kernel, q = (1, 5, 6, 21), np.array([30, -50, 90, 20, -70, 10], np.int8), LEFT_SHIFT_QUANT
        params = qp.eca_params(q["x_q"], q["stat_q"], q["sqdiff_q"], q["kernel_scale"], 3, q["bias"], q["score_q"],
                               q["y_q"], True, 3, q["beta"])
        assert params["sqdiff_output_shift"] >= 0 and params["mul"]["output_shift"] >= 0
        model = eca_chain_model(shape, q["x_q"], q["stat_q"], q["sqdiff_q"], kernel, q["kernel_scale"], q["bias"],
                                q["score_q"], q["y_q"], True, 3, q["beta"])
    else:
        _, shape, _, model, _ = random_eca_case(case == "softmax", max_hw=12, max_groups=12, max_channels=40)
    generated = generate_model_sources(model, tmp_path / "model")
    assert [layer.kind for layer in generated.layers if layer.kind != "RESHAPE"] == ["ECA"]
    target = load_target("f446re")
    inputs = random_inputs(shape, 3, seed=1)
    firmware = build_model_firmware(generated, target, inputs, tmp_path, emulation=True)
    run = run_qemu(firmware.elf, target, timeout_s=120, plugin=False)
    run.raise_for_failure()
    for i, want in enumerate(tflm(model, [x])[0] for x in inputs):
        assert run.output(i) == want.tobytes()
