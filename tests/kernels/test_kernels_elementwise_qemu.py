"""The DSP paths of SUB (ADD's SMMLAR form with the difference's signs), MUL and PRELU (SMMULR on the short
product, left and right shifts) on the Cortex-M4 in QEMU, bit-exact with TFLM, on chains of random
quantizations that reach every branch the paths take."""

import numpy as np
import pytest

from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.tflite import TFLiteBuilder
from oneop_models import random_scale, random_zero_point
from test_codegen_arm import assert_emulated_matches_tflm

SHAPE = (1, 3, 5, 7)  # 105 values: runs that are not a multiple of anything


def chain_model(rng: np.random.Generator, op: str, length: int) -> tuple[bytes, list[dict]]:
    """`length` ops, each on the last result and the input x (both orders for SUB and MUL) or a per-channel
    mean of the last result; PRELU on the last result with alpha per channel or per element. Returns the
    model and each op's parameters (to check which shifts the chain reaches)."""
    b = TFLiteBuilder(f"{op} chain")
    x_q = (0.05, 3)
    x = last = b.add_tensor("x", SHAPE, "int8", scale=x_q[0], zero_point=x_q[1])
    last_q, params = x_q, []
    for i in range(length):
        # MUL's product scale is small: outputs down to 0.0005 give it multipliers above 1 (left shifts).
        y_q = (random_scale(rng, 0.0005 if op == "MUL" else 0.002, 0.5), random_zero_point(rng))
        y = b.add_tensor(f"t{i}", SHAPE, "int8", scale=y_q[0], zero_point=y_q[1])
        if op == "PRELU":
            alpha_shape = (1, 1, SHAPE[3]) if i % 2 else SHAPE[1:]
            alpha_q = (random_scale(rng, 0.001, 0.02), random_zero_point(rng))
            alpha = b.add_tensor(f"alpha{i}", alpha_shape, "int8", scale=alpha_q[0], zero_point=alpha_q[1],
                                 data=rng.integers(-128, 128, size=alpha_shape).astype(np.int8))
            b.add_operator("PRELU", [last, alpha], [y])
            params.append(qp.prelu_params(*last_q, *alpha_q, *y_q))
        else:
            other, other_q = x, x_q
            if i % 3 == 2:  # a per-channel mean of the last result, broadcast over H and W
                other_q = (random_scale(rng, 0.01, 0.1), random_zero_point(rng))
                other = b.add_tensor(f"mean{i}", (1, 1, 1, SHAPE[3]), "int8", scale=other_q[0], zero_point=other_q[1])
                b.add_operator("MEAN", [last, b.add_constant(f"axes{i}", np.array([1, 2], np.int32))], [other],
                               {"keep_dims": True})
            operands, quants = ([last, other], [last_q, other_q]) if i % 2 else ([other, last], [other_q, last_q])
            activation = str(rng.choice(["NONE", "RELU", "RELU6"]))
            b.add_operator(op, operands, [y], {"fused_activation_function": activation})
            params.append((qp.sub_params if op == "SUB" else qp.mul_params)(*quants[0], *quants[1], *y_q))
        last, last_q = y, y_q
    b.set_io([x], [last])
    return b.build(), params


@pytest.mark.parametrize("op", ["SUB", "MUL", "PRELU"])
def test_dsp_paths_in_qemu_match_tflm(tmp_path, op):
    model, params = chain_model(np.random.default_rng(5), op, 14)
    shifts = [p["output_shift"] for p in params] if op != "PRELU" else \
        [p[k] for p in params for k in ("identity_shift", "alpha_shift")]
    if op == "SUB":  # the exact operand (the larger scale) first and second
        assert {p["input1_shift"] == 0 for p in params} == {True, False}
    else:  # left shifts (SMMULR of acc << (shift + 1)) and right shifts (fn_requant_doubled)
        assert min(shifts) < 0 <= max(shifts)
    generated = generate_model_sources(model, tmp_path / "check")
    assert [layer.kind for layer in generated.layers].count(op) == len(params)
    assert_emulated_matches_tflm(model, "f446re", tmp_path)
