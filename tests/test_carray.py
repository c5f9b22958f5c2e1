"""model_data.{c,h}: the flatbuffer as a 16-byte-aligned C array, compiled and read back by real compilers."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from flynet_tiny.tflite.carray import arena_with_margin, model_c_arrays, resolver_method
from flynet_tiny.tflite import TFLiteBuilder, read_tflite
from flynet_tiny.tflite.compact import check_same_tflm_outputs, compact_for_tflm
from flynet_tiny.tflite.interpreters import tflm_arena_bytes
from flynet_tiny.tflite.schema import schema

MAIN_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "model_data.h"
int main(void) {
    if (((uintptr_t)g_model_data) % 16 != 0) return 3;
    fwrite(g_model_data, 1, g_model_data_len, stdout);
    return 0;
}
"""

RESOLVER_CPP = r"""
#include <string>
#include <vector>
#include "model_data.h"
std::vector<std::string> added;
struct Resolver {
#define METHOD(name) int name() { added.push_back(#name); return 0; }
    METHOD(AddConv2D) METHOD(AddDepthwiseConv2D) METHOD(AddReshape) METHOD(AddReduceMax) METHOD(AddHardSwish)
    METHOD(AddAveragePool2D) METHOD(AddFullyConnected) METHOD(AddMean) METHOD(AddSquaredDifference)
    METHOD(AddConcatenation) METHOD(AddLogistic) METHOD(AddSoftmax) METHOD(AddMul) METHOD(AddAdd) METHOD(AddPad)
    METHOD(AddStridedSlice) METHOD(AddQuantize) METHOD(AddDequantize)
};
int main() {
    Resolver r;
    FLYNET_MODEL_REGISTER_OPS(r);
    if ((int)added.size() != FLYNET_MODEL_OP_COUNT) return 1;
    for (auto& name : added) printf("%s\n", name.c_str());
    return 0;
}
"""


def small_model() -> bytes:
    """CONV_2D -> RESHAPE -> REDUCE_MAX: a real model TFLM can allocate."""
    rng = np.random.default_rng(1)
    b = TFLiteBuilder("carray test")
    x = b.add_tensor("x", [1, 4, 4, 2], "int8", scale=0.05, zero_point=-3)
    w = b.add_tensor("w", [6, 3, 3, 2], "int8", data=rng.integers(-127, 128, (6, 3, 3, 2)), scale=[0.01] * 6,
                     zero_point=[0] * 6)
    bias = b.add_tensor("b", [6], "int32", data=rng.integers(-500, 500, 6), scale=[0.0005] * 6, zero_point=[0] * 6)
    y = b.add_tensor("y", [1, 4, 4, 6], "int8", scale=0.1, zero_point=1)
    b.add_operator("CONV_2D", [x, w, bias], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    r = b.add_tensor("r", [1, 4, 4, 2, 3], "int8", scale=0.1, zero_point=1)
    b.add_operator("RESHAPE", [y, b.add_constant("shape", [1, 4, 4, 2, 3])], [r], {"new_shape": [1, 4, 4, 2, 3]})
    z = b.add_tensor("z", [1, 4, 4, 2], "int8", scale=0.1, zero_point=1)
    b.add_operator("REDUCE_MAX", [r, b.add_constant("axis", [4])], [z], {"keep_dims": False})
    b.set_io([x], [z])
    return b.build()


def test_resolver_method_names():
    assert resolver_method("CONV_2D") == "AddConv2D"
    assert resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert resolver_method("AVERAGE_POOL_2D") == "AddAveragePool2D"
    assert resolver_method("SQUARED_DIFFERENCE") == "AddSquaredDifference"
    assert resolver_method("REDUCE_MAX") == "AddReduceMax"


def test_arena_margin_is_aligned_and_larger():
    for measured in (0, 1, 1000, 123457):
        size = arena_with_margin(measured)
        assert size % 16 == 0 and size >= measured + 1024


def test_c_array_round_trips_through_gcc(tmp_path):
    model = small_model()
    measured = tflm_arena_bytes(model)["total"]
    arrays = model_c_arrays(model, measured)
    assert arrays.ops == sorted(read_tflite(model).op_counts())
    assert f"#define FLYNET_MODEL_ARENA_SIZE {arena_with_margin(measured)}" in arrays.header
    (tmp_path / "model_data.h").write_text(arrays.header)
    (tmp_path / "model_data.c").write_text(arrays.source)
    (tmp_path / "main.c").write_text(MAIN_C)
    exe = tmp_path / "readback"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(exe), "main.c", "model_data.c"],
                   cwd=tmp_path, check=True)
    result = subprocess.run([str(exe)], capture_output=True, check=True)
    assert result.stdout == model


def test_c_array_compiles_for_cortex_m4_with_alignment(tmp_path):
    arrays = model_c_arrays(small_model(), 2048)
    (tmp_path / "model_data.h").write_text(arrays.header)
    (tmp_path / "model_data.c").write_text(arrays.source)
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-Os", "-Wall", "-Werror", "-c",
                    "model_data.c", "-o", "model_data.o"], cwd=tmp_path, check=True)
    symbols = subprocess.run(["arm-none-eabi-readelf", "-S", "-W", "model_data.o"], cwd=tmp_path,
                             capture_output=True, text=True, check=True).stdout
    rodata = [line for line in symbols.splitlines() if ".rodata" in line and "rel" not in line]
    assert rodata and any(line.split()[-1] in ("16", "32") for line in rodata), symbols


def test_register_ops_macro_adds_exactly_the_model_ops(tmp_path):
    model = small_model()
    arrays = model_c_arrays(model, 2048)
    (tmp_path / "model_data.h").write_text(arrays.header)
    (tmp_path / "main.cpp").write_text("#include <cstdio>\n" + RESOLVER_CPP)
    exe = tmp_path / "resolver"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-o", str(exe), "main.cpp"], cwd=tmp_path, check=True)
    added = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert added == [resolver_method(op) for op in sorted(read_tflite(model).op_counts())]


def test_tflm_form_drops_names_and_zero_point_arrays_but_computes_the_same():
    model = small_model()
    compact = compact_for_tflm(model)
    full_graph, compact_graph = read_tflite(model), read_tflite(compact.model_bytes)
    per_channel = [t.index for t in full_graph.tensors if t.per_channel]
    assert compact.zero_points_collapsed == len(per_channel) == 2
    # 8 bytes per dropped zero point, at least; names go except the graph's input and output
    assert len(compact.model_bytes) <= len(model) - 8 * sum(full_graph.tensors[i].scale.size - 1 for i in per_channel)
    raw = schema.ModelT.InitFromPackedBuf(bytearray(compact.model_bytes), 0).subgraphs[0].tensors
    assert all(len(raw[i].quantization.zeroPoint) == 1 for i in per_channel)
    io = set(full_graph.inputs) | set(full_graph.outputs)
    assert [t.name for t in compact_graph.tensors] == [t.name if t.index in io else "" for t in full_graph.tensors]
    assert compact.names_dropped == len(full_graph.tensors) - len(io)
    for full_t, compact_t in zip(full_graph.tensors, compact_graph.tensors):
        assert np.array_equal(full_t.zero_point, compact_t.zero_point) if full_t.scale is not None else True
        assert (full_t.data is None) == (compact_t.data is None)
        if full_t.data is not None:
            assert np.array_equal(full_t.data, compact_t.data)
    check_same_tflm_outputs(model, compact.model_bytes, samples=8)


def test_tflm_form_keeps_16_byte_aligned_buffers():
    compact = compact_for_tflm(small_model()).model_bytes
    model = schema.Model.GetRootAsModel(compact, 0)
    starts = [model.Buffers(i)._tab.Vector(model.Buffers(i)._tab.Offset(4))
              for i in range(model.BuffersLength()) if model.Buffers(i).DataLength()]
    assert starts and all(start % 16 == 0 for start in starts)


def test_output_check_catches_a_different_graph():
    other = bytearray(small_model())
    graph = read_tflite(bytes(other))
    weight = next(t for t in graph.tensors if t.dtype == "int8" and t.is_constant)
    at = bytes(other).find(weight.data.tobytes())
    other[at] = (other[at] + 1) % 256
    with pytest.raises(RuntimeError, match="computes other outputs"):
        check_same_tflm_outputs(small_model(), bytes(other), samples=8)
