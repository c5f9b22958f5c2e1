"""A model's edges and several inputs / outputs: QUANTIZE / DEQUANTIZE in the generated C, flynet_invoke's
pointer arrays, model.h naming every tensor, and the corpus's two-input two-output models: bit-exact with
TFLite Micro in the host build and in QEMU."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from codegen_models import conv_chain_model, edge_samples, edges_model
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_kernels import kernel_include_dir, kernel_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.tflite.interpreters import random_samples
from flynet_tiny.errors import FlynetError
from flynet_tiny.sim.bench import bench_tflite
from flynet_tiny.targets import load_target
from flynet_tiny.tflite.interpreters import run_tflm_batch

CORPUS = Path(__file__).parent / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())["models"]
TWO_IN_TWO_OUT = ["two_inputs_two_outputs_int8", "two_inputs_two_outputs_u8f32"]


def assert_host_build_equals_tflm(model: bytes, samples, out_dir) -> HostModel:
    host = HostModel(generate_model_sources(model, out_dir))
    for sample, expected in zip(samples, run_tflm_batch(model, samples)):
        outputs = host.invoke_all(sample)
        assert [y.dtype for y in outputs] == [y.dtype for y in expected]
        assert [y.tobytes() for y in outputs] == [y.tobytes() for y in expected]
    return host


def test_edge_ops_in_the_host_build_equal_tflm_bytes(tmp_path):
    """uint8 -> int8, float32 -> int8, int8 -> int8, int8 -> float32 (its bits) and int8 -> uint8."""
    host = assert_host_build_equals_tflm(edges_model(), edge_samples(6), tmp_path)
    assert [layer.kind for layer in host.generated.layers] == ["QUANTIZE"] * 3 + ["DEQUANTIZE", "QUANTIZE"]
    assert [(t.dtype, t.shape) for t in host.generated.outputs] == [("float32", (1, 256)), ("uint8", (1, 64))]


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_edge_ops_in_qemu_equal_tflm_bit_for_bit(tmp_path, target_name):
    """The float32 arithmetic of the M4F's and the M7's FPU gives TFLM's bits, as the host build does."""
    result = bench_tflite(edges_model(), load_target(target_name), edge_samples(5), tmp_path, timeout_s=120)
    assert result.checks["host_bit_exact"] and result.checks["tflm_bit_exact"]
    assert result.inputs == 5


@pytest.mark.parametrize("name", TWO_IN_TWO_OUT)
def test_two_input_two_output_models_equal_tflm_in_the_host_build(tmp_path, name):
    model = (CORPUS / f"{name}.tflite").read_bytes()
    host = assert_host_build_equals_tflm(model, random_samples(model, 8, seed=2), tmp_path)
    entry = MANIFEST[name]
    assert [(t.name, t.dtype, list(t.shape)) for t in host.generated.inputs] == \
        [(t["name"], t["dtype"], t["shape"]) for t in entry["inputs"]]
    assert [(t.name, t.dtype, list(t.shape)) for t in host.generated.outputs] == \
        [(t["name"], t["dtype"], t["shape"]) for t in entry["outputs"]]


@pytest.mark.parametrize("name", TWO_IN_TWO_OUT)
def test_two_input_two_output_models_equal_tflm_in_qemu(tmp_path, name):
    model = (CORPUS / f"{name}.tflite").read_bytes()
    result = bench_tflite(model, load_target("f446re"), random_samples(model, 3, seed=5), tmp_path, timeout_s=300)
    assert result.checks["host_bit_exact"] and result.checks["tflm_bit_exact"]
    assert result.memory["embedded_input_bytes"] == 3 * (8 + 32 * 32 * 3)  # both inputs of every sample


def test_header_names_every_tensor_with_type_shape_and_quantization(tmp_path):
    """The u8f32 corpus model's edges, as the converter's manifest records them, in model.h."""
    generate_model_sources((CORPUS / "two_inputs_two_outputs_u8f32.tflite").read_bytes(), tmp_path)
    header = (tmp_path / "model.h").read_text()
    entry = MANIFEST["two_inputs_two_outputs_u8f32"]
    assert "#define FLYNET_INPUT_COUNT 2\n" in header and "#define FLYNET_OUTPUT_COUNT 2\n" in header
    for kind, tensors in (("INPUT", entry["inputs"]), ("OUTPUT", entry["outputs"])):
        for k, t in enumerate(tensors):
            ctype = {"uint8": "uint8_t", "int8": "int8_t", "float32": "float"}[t["dtype"]]
            count = int(np.prod(t["shape"]))
            assert f"'{t['name']}', {t['dtype']} [{', '.join(map(str, t['shape']))}]" in header
            assert f"#define FLYNET_{kind}{k}_TYPE {ctype}\n" in header
            assert f"#define FLYNET_{kind}{k}_BYTES {count * np.dtype(t['dtype']).itemsize}\n" in header
            assert f"#define FLYNET_{kind}{k}_SHAPE {{{', '.join(map(str, t['shape']))}}}\n" in header
    for k, t in enumerate(entry["inputs"]):
        assert f"#define FLYNET_INPUT{k}_ZERO_POINT {t['zero_point'][0]}\n" in header
        assert np.float32(header.split(f"#define FLYNET_INPUT{k}_SCALE ")[1].split("f\n")[0]) == \
            np.float32(t["scale"][0])
    assert "int flynet_invoke(const void *const inputs[FLYNET_INPUT_COUNT], " \
           "void *const outputs[FLYNET_OUTPUT_COUNT]);" in header


CALLER = r"""
#include <stdio.h>
#include "model.h"

/* What a user writes: buffers typed and sized from model.h, flynet_invoke on pointer arrays. */
static FLYNET_INPUT0_TYPE features[FLYNET_INPUT0_BYTES / sizeof(FLYNET_INPUT0_TYPE)];
static FLYNET_INPUT1_TYPE image[FLYNET_INPUT1_BYTES / sizeof(FLYNET_INPUT1_TYPE)];
static FLYNET_OUTPUT0_TYPE box[FLYNET_OUTPUT0_BYTES / sizeof(FLYNET_OUTPUT0_TYPE)];
static FLYNET_OUTPUT1_TYPE classes[FLYNET_OUTPUT1_BYTES / sizeof(FLYNET_OUTPUT1_TYPE)];

int main(void)
{
    if (fread(features, 1, sizeof features, stdin) != sizeof features || fread(image, 1, sizeof image, stdin) != sizeof image)
        return 2;
    const void *const inputs[FLYNET_INPUT_COUNT] = {features, image};
    void *const outputs[FLYNET_OUTPUT_COUNT] = {box, classes};
    if (flynet_invoke(inputs, outputs) != 0)
        return 1;
    fwrite(box, 1, sizeof box, stdout);
    fwrite(classes, 1, sizeof classes, stdout);
    return 0;
}
"""


def test_a_c_caller_of_the_header_gets_tflm_outputs(tmp_path):
    model = (CORPUS / "two_inputs_two_outputs_u8f32.tflite").read_bytes()
    generated = generate_model_sources(model, tmp_path / "model")
    (tmp_path / "main.c").write_text(CALLER)
    program = tmp_path / "caller"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(generated.out_dir),
                    "-I", str(kernel_include_dir()), str(tmp_path / "main.c"), *map(str, generated.sources),
                    *map(str, kernel_sources()), "-o", str(program)], check=True, capture_output=True)
    sample = random_samples(model, 1, seed=8)[0]
    result = subprocess.run([str(program)], input=b"".join(x.tobytes() for x in sample), capture_output=True)
    assert result.returncode == 0
    assert result.stdout == b"".join(y.tobytes() for y in run_tflm_batch(model, [sample])[0])


IN_PLACE_CALLER = r"""
#include <stdio.h>
#include "model.h"

/* A caller with no buffers of its own: inputs written at their arena slots, outputs read at theirs. */
int main(void)
{
#if !FLYNET_INPUT0_IN_ARENA || !FLYNET_INPUT1_IN_ARENA || !FLYNET_OUTPUT0_IN_ARENA || !FLYNET_OUTPUT1_IN_ARENA
    return 3;
#endif
    const void *const inputs[FLYNET_INPUT_COUNT] = {flynet_input_buffer(0), flynet_input_buffer(1)};
    void *const outputs[FLYNET_OUTPUT_COUNT] = {flynet_output_buffer(0), flynet_output_buffer(1)};
    if (fread(flynet_input_buffer(0), 1, FLYNET_INPUT0_BYTES, stdin) != FLYNET_INPUT0_BYTES ||
        fread(flynet_input_buffer(1), 1, FLYNET_INPUT1_BYTES, stdin) != FLYNET_INPUT1_BYTES)
        return 2;
    if (flynet_invoke(inputs, outputs) != 0 || flynet_output_buffer(2) != NULL)
        return 1;
    fwrite(outputs[0], 1, FLYNET_OUTPUT0_BYTES, stdout);
    fwrite(outputs[1], 1, FLYNET_OUTPUT1_BYTES, stdout);
    return 0;
}
"""


@pytest.mark.parametrize("placement", ["arena", "caller"])
def test_a_caller_reading_outputs_in_the_arena_gets_tflm_outputs(tmp_path, placement):
    """output_placement="arena": the outputs are planned in the arena, so RAM is the arena alone; a caller
    that passes flynet_output_buffer(i) reads them there (no copy), one with buffers of its own gets copies.
    With "caller", the header says FLYNET_OUTPUTi_IN_ARENA 0 and the in-place caller refuses to run."""
    model = (CORPUS / "two_inputs_two_outputs_u8f32.tflite").read_bytes()
    generated = generate_model_sources(model, tmp_path / "model", input_placement="arena", output_placement=placement)
    in_arena = placement == "arena"
    assert generated.outputs_in_arena == in_arena
    assert generated.ram_bytes == generated.arena_bytes + (0 if in_arena else sum(t.nbytes for t in generated.outputs))
    assert f"#define FLYNET_OUTPUT1_IN_ARENA {int(in_arena)}\n" in generated.header.read_text()
    sample = random_samples(model, 1, seed=9)[0]
    expected = b"".join(y.tobytes() for y in run_tflm_batch(model, [sample])[0])
    for name, source in (("in_place", IN_PLACE_CALLER), ("own_buffers", CALLER)):
        (tmp_path / f"{name}.c").write_text(source)
        subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(generated.out_dir),
                        "-I", str(kernel_include_dir()), str(tmp_path / f"{name}.c"), *map(str, generated.sources),
                        *map(str, kernel_sources()), "-o", str(tmp_path / name)], check=True, capture_output=True)
        result = subprocess.run([str(tmp_path / name)], input=b"".join(x.tobytes() for x in sample), capture_output=True)
        if name == "in_place" and not in_arena:
            assert result.returncode == 3
            continue
        assert result.returncode == 0 and result.stdout == expected, name


def test_invoke_of_one_array_is_for_one_input_one_output_models(tmp_path):
    one = HostModel(generate_model_sources(conv_chain_model(), tmp_path / "one"))
    x = random_samples(conv_chain_model(), 1)[0][0]
    assert one.invoke(x).tobytes() == one.invoke_all([x])[0].tobytes()
    two = HostModel(generate_model_sources((CORPUS / "two_inputs_two_outputs_int8.tflite").read_bytes(),
                                           tmp_path / "two"))
    with pytest.raises(FlynetError, match="the model has 2 inputs and 2 outputs: use invoke_all"):
        two.invoke(x)
    with pytest.raises(FlynetError, match="1 inputs given, the model takes 2"):
        two.invoke_all([x])
