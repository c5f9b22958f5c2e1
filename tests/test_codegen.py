"""The code generator: generated C, compiled for the host, against TFLite Micro byte for byte."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from codegen_models import (ALL_MODELS, ModelMaker, assert_plan_sound_and_within_tflm, conv_chain_model, mdw_model,
                            padded_conv_model)
from flynet_tiny.codegen.generate import build_ir, generate_model_sources, layer_checksum
from flynet_tiny.codegen.placement import tensor_symbol
from flynet_tiny.codegen.emit import emit_layer
from flynet_tiny.codegen.layer_code import ScratchQuery
from flynet_tiny.codegen.host_kernels import kernel_include_dir
from flynet_tiny.codegen.scratch import scratch_bytes
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.errors import FlynetError
from flynet_tiny.tflite.interpreters import run_tflm_batch

SAMPLES = 25


def random_inputs(shape, count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_generated_c_is_bit_exact_with_tflm(name, tmp_path):
    model = ALL_MODELS[name]()
    generated = generate_model_sources(model, tmp_path)
    host = HostModel(generated)
    inputs = random_inputs(generated.input_shape, SAMPLES)
    expected = run_tflm_batch(model, [[x] for x in inputs])
    mismatching = sum(int(np.count_nonzero(host.invoke(x) != want[0])) for x, want in zip(inputs, expected))
    assert mismatching == 0


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_plan_never_overlaps_live_tensors_and_beats_tflm(name, tmp_path):
    model = ALL_MODELS[name]()
    generated = generate_model_sources(model, tmp_path)
    assert_plan_sound_and_within_tflm(generated, model)
    plan = json.loads((tmp_path / "memory_plan.json").read_text())
    assert plan["arena_bytes"] == generated.arena_bytes
    for t in plan["tensors"]:
        assert t["offset"] + t["size"] <= plan["arena_bytes"] and t["first_use"] <= t["last_use"]


@pytest.mark.parametrize("pattern,heads", [("reshape", 3), ("slices", 2), ("slices", 4)])
def test_mdw_maxout_is_fused_and_its_c_times_h_map_never_planned(pattern, heads, tmp_path):
    model = mdw_model(pattern=pattern, heads=heads)
    ir = build_ir(model)
    assert [l.kind for l in ir.layers] == ["CONV_2D", "MDW_MAXOUT", "CONV_2D"]
    generated = generate_model_sources(model, tmp_path)
    wide = ir.layers[1].op.outputs[0]  # the depthwise's C*h output
    assert tensor_symbol(ir, wide) not in {t.name for t in generated.plan.tensors}
    # Unfused, the depthwise alone would hold its input and the C*h map at once.
    unfused_floor = ir.tensor(ir.layers[1].inputs[0]).nbytes + ir.tensor(wide).nbytes
    assert generated.arena_bytes < unfused_floor
    host = HostModel(generated)
    inputs = random_inputs(generated.input_shape, 10, seed=heads)
    expected = run_tflm_batch(model, [[x] for x in inputs])
    assert all(np.array_equal(host.invoke(x), want[0]) for x, want in zip(inputs, expected))


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_generated_files_are_deterministic(name, tmp_path):
    model = ALL_MODELS[name]()
    generate_model_sources(model, tmp_path / "a")
    generate_model_sources(model, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["memory_plan.json", "model.c", "model.h", "model_weights.c", "model_weights.h"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_generated_c_reads_like_the_network(tmp_path):
    model = conv_chain_model()
    generated = generate_model_sources(model, tmp_path)
    text = (tmp_path / "model.c").read_text()
    for layer in generated.layers:
        assert f"/* layer {layer.index}: " in text
        if layer.kind != "RESHAPE":
            assert f"    begin({layer.index});" in text
    assert text.count("status = fn_") == sum(1 for l in generated.layers if l.kind != "RESHAPE")
    assert "fn_conv2d_s8(" in text and "fn_softmax_s8(" in text


def test_equal_layer_parameters_are_one_object(tmp_path):
    generate_model_sources(conv_chain_model(), tmp_path)
    lines = (tmp_path / "model.c").read_text().splitlines()
    inside_layers = [l for l in lines if l.startswith(" ") and "static const fn_" in l]
    assert inside_layers == []
    # Objects of the kernels' types or of their packed mirrors (flynet_tiny/codegen/pack_params.py).
    declared = [l.split(" ", 3)[2:] for l in lines if re.match(r"static const (fn_\w+|\w+_packed) \w+ = ", l)]
    types_and_values = [(ctype, rest.split(" = ", 1)[1]) for ctype, rest in declared]
    assert len(set(types_and_values)) == len(types_and_values) > 0
    # The 1x1 conv's output dims are the residual add's input dims: one object, used by both layers.
    text = "\n".join(lines)
    assert text.count("static const fn_dims dims_1x6x6x8 = {1, 6, 6, 8};") == 1
    assert text.count("&dims_1x6x6x8") > 2


@pytest.mark.parametrize("compiler,flags", [
    ("gcc", ["-std=c99"]),
    ("arm-none-eabi-gcc", ["-std=c99", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]),
    ("arm-none-eabi-gcc", ["-std=c99", "-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard",
                           "-DFLYNET_LAYER_CHECKSUMS"]),
])
def test_generated_c_compiles_warning_free(compiler, flags, tmp_path):
    assert shutil.which(compiler), f"{compiler} is part of the toolchain this project needs"
    generated = generate_model_sources(padded_conv_model(), tmp_path)  # PAD folded into convs, MDW + Max-out
    for source in generated.sources:
        result = subprocess.run(
            [compiler, *flags, "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(kernel_include_dir()),
             "-I", str(tmp_path), "-c", str(source), "-o", str(tmp_path / (source.stem + ".o"))],
            capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_layer_checksums_match_python(tmp_path):
    model = conv_chain_model()
    generated = generate_model_sources(model, tmp_path)
    host = HostModel(generated, extra_flags=("-DFLYNET_LAYER_CHECKSUMS",))
    x = random_inputs(generated.input_shape, 1, seed=9)[0]
    y = host.invoke(x)
    checksums = host.layer_checksums()
    assert checksums[-1] == layer_checksum(y)
    assert len(set(checksums)) > 1


def test_unsupported_configuration_fails_naming_the_layer(tmp_path):
    m = ModelMaker(4)
    x = m.input((1, 8, 8, 2))
    y = m.conv(x, 4, k=3, stride=3)
    with pytest.raises(FlynetError, match=r"layer #0 CONV_2D \('conv_\d+'\): stride 3x3"):
        generate_model_sources(m.build(x, y), tmp_path)


def test_reduce_max_outside_a_max_out_is_refused(tmp_path):
    m = ModelMaker(5)
    x = m.input((1, 4, 4, 6))
    axis = m.b.add_constant("axis", np.array([1], dtype=np.int32))
    y = m.same_scale(x, (1, 4, 6), "column_max")
    m.b.add_operator("REDUCE_MAX", [x, axis], [y], {"keep_dims": False})
    with pytest.raises(FlynetError, match=r"layer #0 REDUCE_MAX \('column_max_\d+'\): REDUCE_MAX is only supported"):
        generate_model_sources(m.build(x, y), tmp_path)


def test_max_out_after_other_layers_becomes_one_layer(tmp_path):
    m = ModelMaker(6)
    x = m.input((1, 6, 6, 4))
    wide = m.conv(x, 12, k=1)
    y = m.conv(m.mdw_reshape_maxout_of(wide, 3), 4, k=1)
    model = m.build(x, y)
    assert [l.kind for l in build_ir(model).layers] == ["CONV_2D", "MAXOUT", "CONV_2D"]
    generated = generate_model_sources(model, tmp_path)
    host = HostModel(generated)
    inputs = random_inputs(generated.input_shape, 5, seed=6)
    expected = run_tflm_batch(model, [[x] for x in inputs])
    assert all(np.array_equal(host.invoke(x), want[0]) for x, want in zip(inputs, expected))


def test_pad_fuses_into_the_following_valid_conv(tmp_path):
    model = padded_conv_model()
    ir = build_ir(model)
    assert [l.kind for l in ir.layers] == ["PADDED_CONV_2D", "PADDED_DEPTHWISE_CONV_2D", "PADDED_MDW_MAXOUT", "CONV_2D"]
    generated = generate_model_sources(model, tmp_path)
    planned = {t.name for t in generated.plan.tensors}
    model_c = (tmp_path / "model.c").read_text()
    assert model_c.count(".padding = FN_PADDING_EXPLICIT") == 3
    for layer in ir.layers[:3]:
        padded = layer.ops[0].outputs[0]
        assert tensor_symbol(ir, padded) not in planned
        # No padded rows are buffered either: the layer's scratch is only what its kernel asks for
        # on the unpadded input (the im2col columns of a conv, nothing for depthwise / MDW).
        function = {"PADDED_CONV_2D": "fn_conv2d_s8", "PADDED_DEPTHWISE_CONV_2D": "fn_depthwise_conv2d_s8",
                    "PADDED_MDW_MAXOUT": "fn_mdw_maxout_s8"}[layer.kind] + "_get_buffer_size"
        dims = (ir.tensor(layer.inputs[0]).shape, ir.constant(layer, 1, layer.ops[1]).shape)
        assert generated.layers[layer.index].scratch_bytes == scratch_bytes(ScratchQuery(function, dims, ""))


def test_portable_build_plans_only_the_portable_kernels_scratch(tmp_path):
    """--opt size builds run without the DSP paths: their arena holds no DSP im2col / plane scratch."""
    model = mdw_model()
    either = generate_model_sources(model, tmp_path / "either")
    portable = generate_model_sources(model, tmp_path / "portable", dsp_kernels=False)
    ir = build_ir(model)
    dsp_only = 0
    for layer, a, b in zip(ir.layers, either.layers, portable.layers):
        query = emit_layer(ir, layer, "l").scratch
        assert b.scratch_bytes == (scratch_bytes(query, dsp_kernels=False) if query else 0)
        assert a.scratch_bytes == (scratch_bytes(query) if query else 0) >= b.scratch_bytes
        dsp_only += a.scratch_bytes > b.scratch_bytes
    assert dsp_only >= 2  # the 3x3 conv's im2col and the MDW's planes
    assert portable.arena_bytes < either.arena_bytes
