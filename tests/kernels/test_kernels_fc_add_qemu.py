"""The DSP paths of FULLY_CONNECTED (row pairs: SMLAD on packed lanes, SXTB16 for the even row, one or two
batch rows per pass, the input widened once or in the loop; the old 4-rows-per-pass path for weights with
-128), of 1x1 convs on small maps run as row-pair FCs, and of ADD (SMMLAR / SMMULR rescaling, the flat
equal-shape loop) on the Cortex-M4 and M7 in QEMU, bit-exact with TFLM (every layer against the host build)."""

import numpy as np
import pytest

from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.data.model_inputs import random_inputs
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.sim.bench import CHECKSUM_DEFINE, check_run, reference_outputs
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import TFLiteBuilder
from codegen_models import pointwise_small_maps_model
from oneop_models import random_scale, random_zero_point, tflm

# (out features, per-channel weights, bias, activation, kind): a chain of FCs from FC_INPUTS features covering
# in-feature counts with a tail of 1-3 past the last group of 4 (37, 9, 3, 7, 6) and without (8, 600: over 512,
# the chunked sums; 12), out-feature counts of whole quads (8, 600, 12), a quad and a lone pair (14, 6), 3 rows
# of a quad (3, 7), a lone row (9), per-tensor and per-channel quantization, no bias, narrowed activation
# ranges; kind "min": a -128 weight (the old kernel's path), "general": biases near +-2^30 and an output scale
# that makes the multiplier about 2^-24 (a shift past -22 and sums past 2^30: the general requantization, with
# outputs off the rails). With one batch row, 600 -> 8 and 12 -> 8 read the raw input (the latter's general
# requantization widening it on the stack).
FC_INPUTS = 37
FC_CHAIN = [(14, False, True, "NONE", ""), (9, True, False, "RELU", ""), (3, True, True, "RELU6", ""),
            (8, False, True, "NONE", "min"), (600, True, True, "NONE", ""), (8, True, True, "RELU", ""),
            (7, True, True, "NONE", ""), (6, True, True, "NONE", ""), (12, True, True, "NONE", ""),
            (8, False, True, "NONE", "general")]


def fc_chain_model(rng: np.random.Generator, batches: int) -> bytes:
    b = TFLiteBuilder("fc chain")
    n_in, x_q = FC_INPUTS, (random_scale(rng), random_zero_point(rng))
    xi = first = b.add_tensor("x", (batches, n_in), "int8", scale=x_q[0], zero_point=x_q[1])
    for i, (n_out, per_channel, has_bias, activation, kind) in enumerate(FC_CHAIN):
        w_scales = [random_scale(rng, 0.002, 0.05) for _ in range(n_out if per_channel else 1)]
        w = rng.integers(-127, 128, size=(n_out, n_in)).astype(np.int8)
        if kind == "min":
            w[n_out // 2, n_in // 2] = -128
        wi = b.add_tensor(f"w{i}", (n_out, n_in), "int8", data=w, scale=w_scales, zero_point=[0] * len(w_scales))
        inputs = [xi, wi]
        if has_bias:
            limit = 1_500_000_000 if kind == "general" else 5000
            bias = rng.integers(-limit, limit, size=n_out).astype(np.int32)
            bias_scales = [float(np.float32(x_q[0]) * np.float32(s)) for s in w_scales]
            inputs.append(b.add_tensor(f"b{i}", (n_out,), "int32", data=bias, scale=bias_scales,
                                       zero_point=[0] * len(w_scales)))
        else:
            inputs.append(-1)
        y_scale = x_q[0] * w_scales[0] / 6e-8 if kind == "general" else random_scale(rng, 0.05, 0.5)
        y_q = (y_scale, random_zero_point(rng))
        yi = b.add_tensor(f"y{i}", (batches, n_out), "int8", scale=y_q[0], zero_point=y_q[1])
        b.add_operator("FULLY_CONNECTED", inputs, [yi], {"fused_activation_function": activation})
        xi, x_q, n_in = yi, y_q, n_out
    b.set_io([first], [xi])
    return b.build()


# 3 batch rows: one pair of rows through the 2-row path, then a row alone; 2: the pair alone; 1: each row alone.
@pytest.mark.parametrize("target_name, batches", [("f446re", 3), ("f746zg", 2), ("f746zg", 1)])
def test_fully_connected_dsp_build_in_qemu_matches_tflm(tmp_path, target_name, batches):
    model = fc_chain_model(np.random.default_rng(3), batches=batches)
    generated = generate_model_sources(model, tmp_path / "model")
    assert [layer.kind for layer in generated.layers] == ["FULLY_CONNECTED"] * len(FC_CHAIN)
    row_pairs = ["row pairs" in layer.summary for layer in generated.layers]
    assert row_pairs == [kind != "min" for *_, kind in FC_CHAIN]
    assert "fast_requant = 0" in generated.sources[0].read_text()
    target = load_target(target_name)
    inputs = random_inputs((batches, FC_INPUTS), 4, seed=5)
    firmware = build_model_firmware(generated, target, inputs, tmp_path, emulation=True, defines=[CHECKSUM_DEFINE])
    run = run_qemu(firmware.elf, target, timeout_s=120, plugin=False)
    run.raise_for_failure()
    # every layer's bytes equal the host build's (the portable path, checked against TFLM layer by layer in
    # test_kernels_ops.py), and the output equals TFLM's
    check_run(run, reference_outputs(generated, model, inputs), generated)


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_pointwise_convs_on_small_maps_run_as_row_pairs_in_qemu(tmp_path, target_name):
    model = pointwise_small_maps_model()
    generated = generate_model_sources(model, tmp_path / "model")
    as_pairs = [layer.summary for layer in generated.layers if "row pairs" in layer.summary]
    assert [s.split(" as ")[1].split(",")[0] for s in as_pairs] == ["16 x 20 -> 12", "4 x 12 -> 9", "1 x 8 -> 6"]
    target = load_target(target_name)
    inputs = random_inputs(generated.input_shape, 4, seed=9)
    firmware = build_model_firmware(generated, target, inputs, tmp_path, emulation=True, defines=[CHECKSUM_DEFINE])
    run = run_qemu(firmware.elf, target, timeout_s=120, plugin=False)
    run.raise_for_failure()
    check_run(run, reference_outputs(generated, model, inputs), generated)


# ADD chain on an odd-sized map (105 elements; 1,155, past FN_ADD_TABLE_MIN, for the tabled first operand):
# (operand names, output quantization, activation). Equal input scales (both shifts 0), the larger scale
# first and second (the kernel's swap), ReLU and ReLU6 (narrowed ranges), and the broadcast of a
# per-channel mean both ways round.
ADD_SHAPE = (1, 3, 5, 7)
TABLED_ADD_SHAPE = (1, 11, 15, 7)
ADD_CHAIN = [(("x", "x"), (0.08, -4), "NONE"), (("t0", "x"), (0.1, 2), "RELU"), (("x", "t1"), (0.12, -7), "NONE"),
             (("t2", "mean"), (0.15, 0), "RELU6"), (("mean", "t3"), (0.2, 9), "NONE")]


def random_add_chain(rng: np.random.Generator, length: int):
    """ADD_CHAIN's form with random output quantizations and activations, each ADD taking the last sum and x."""
    chain = []
    for i in range(length):
        operands = ("x", f"t{i - 1}") if i % 2 else (f"t{i - 1}", "x")
        chain.append((operands if i else ("x", "x"), (random_scale(rng, 0.01, 0.3), random_zero_point(rng)),
                      str(rng.choice(["NONE", "RELU", "RELU6"]))))
    return chain


def add_chain_model(chain=ADD_CHAIN, shape=ADD_SHAPE) -> bytes:
    b = TFLiteBuilder("add chain")
    tensors = {"x": b.add_tensor("x", shape, "int8", scale=0.05, zero_point=3)}
    for i, ((left, right), (scale, zp), activation) in enumerate(chain):
        if "mean" in (left, right) and "mean" not in tensors:
            axes = b.add_constant("axes", np.array([1, 2], np.int32))
            tensors["mean"] = b.add_tensor("mean", (1, 1, 1, shape[3]), "int8", scale=0.07, zero_point=5)
            b.add_operator("MEAN", [tensors[f"t{i - 1}"], axes], [tensors["mean"]], {"keep_dims": True})
        tensors[f"t{i}"] = b.add_tensor(f"t{i}", shape, "int8", scale=scale, zero_point=zp)
        b.add_operator("ADD", [tensors[left], tensors[right]], [tensors[f"t{i}"]],
                       {"fused_activation_function": activation})
    b.set_io([tensors["x"]], [tensors[f"t{len(chain) - 1}"]])
    return b.build()


@pytest.mark.parametrize("chain, shape", [(ADD_CHAIN, ADD_SHAPE), (ADD_CHAIN, TABLED_ADD_SHAPE),
                                          (random_add_chain(np.random.default_rng(11), 16), ADD_SHAPE)],
                         ids=["edges", "edges-tabled", "random"])
def test_add_dsp_build_in_qemu_matches_tflm(tmp_path, chain, shape):
    model = add_chain_model(chain, shape)
    generated = generate_model_sources(model, tmp_path / "model")
    assert [layer.kind for layer in generated.layers].count("ADD") == len(chain)
    target = load_target("f446re")
    inputs = random_inputs(shape, 4, seed=7)
    firmware = build_model_firmware(generated, target, inputs, tmp_path, emulation=True)
    run = run_qemu(firmware.elf, target, timeout_s=120, plugin=False)
    run.raise_for_failure()
    for i, x in enumerate(inputs):
        assert run.output(i) == tflm(model, [x])[0].tobytes()
