"""Generated models in QEMU: the benchmark firmware's outputs against TFLite Micro, byte for byte."""

import numpy as np
import pytest

from codegen_models import mdw_model, mixed_ops_model
from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.errors import FlynetError
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from flynet_tiny.tflite.interpreters import run_tflm_batch

INPUTS = 2


# Each model on one board keeps the suite short; together they cover both cores.
@pytest.mark.parametrize("target_name, make_model", [("f446re", mdw_model), ("f746zg", mixed_ops_model)])
def test_generated_model_matches_tflm_on_the_emulated_board(tmp_path, target_name, make_model):
    model = make_model()
    generated = generate_model_sources(model, tmp_path / "model")
    rng = np.random.default_rng(7)
    inputs = [rng.integers(-128, 128, size=generated.input_shape, dtype=np.int8) for _ in range(INPUTS)]
    expected = run_tflm_batch(model, [[x] for x in inputs])
    target = load_target(target_name)
    build = build_model_firmware(generated, target, inputs, tmp_path / "fw", emulation=True)
    result = run_qemu(build.elf, target, timeout_s=60)
    assert result.ok, result.stdout[-500:]
    for number in range(INPUTS):
        assert result.output(number) == expected[number][0].tobytes()
    # every layer with a kernel call is counted, once per input, under its generated name
    begun = [(layer.index, layer.name) for layer in result.layers]
    names = [(layer.index, layer.name) for layer in generated.layers]
    per_input = len(begun) // INPUTS
    assert begun == begun[:per_input] * INPUTS and set(begun) <= set(names)
    assert all(layer.instructions > 0 for layer in result.layers)
    assert result.layers[0].classes == result.layers[per_input].classes  # same layer, same work


def test_test_inputs_must_fit_the_model(tmp_path):
    generated = generate_model_sources(mixed_ops_model(), tmp_path / "model")
    wrong = np.zeros(generated.input_bytes + 1, dtype=np.int8)
    with pytest.raises(FlynetError, match=r"test input 0 is int8 with \d+ values; the model takes \d+ int8 values"):
        build_model_firmware(generated, load_target("f446re"), [wrong], tmp_path / "fw", emulation=True)
