"""MicroNet's kernels bit-exact with TFLite Micro: the grouped conv (with and without an input channel
map), the channel gather, and the fused Shift-Max (through the code generator, against the op chain the
converter writes)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.tflite import TFLiteBuilder
from oneop_models import random_int8, random_scale, random_zero_point, tflm


def grouped_conv_model(rng, in_shape, kernel: int, out_channels: int, groups: int, stride: int, padding: str,
                       activation: str = "NONE", with_bias: bool = True):
    """One CONV_2D whose filter holds C_in / groups input channels (TFLite's grouped convolution)."""
    n, h, w, c = in_shape
    x_scale, x_zp = random_scale(rng), random_zero_point(rng)
    y_scale, y_zp = random_scale(rng, 0.02, 0.3), random_zero_point(rng)
    weights = rng.integers(-127, 128, size=(out_channels, kernel, kernel, c // groups)).astype(np.int8)
    w_scales = np.array([random_scale(rng, 0.002, 0.05) for _ in range(out_channels)], dtype=np.float32)
    bias = rng.integers(-3000, 3000, size=out_channels).astype(np.int32) if with_bias else None
    b = TFLiteBuilder("grouped conv")
    xi = b.add_tensor("x", in_shape, "int8", scale=x_scale, zero_point=x_zp)
    wi = b.add_tensor("w", weights.shape, "int8", data=weights, scale=w_scales, zero_point=[0] * out_channels)
    inputs = [xi, wi]
    if with_bias:
        inputs.append(b.add_tensor("b", (out_channels,), "int32", data=bias,
                                   scale=(np.float32(x_scale) * w_scales).astype(np.float32),
                                   zero_point=[0] * out_channels))
    else:
        inputs.append(-1)
    oh, _ = qp.conv_padding(padding, h, kernel, stride)
    ow, _ = qp.conv_padding(padding, w, kernel, stride)
    yi = b.add_tensor("y", (n, oh, ow, out_channels), "int8", scale=y_scale, zero_point=y_zp)
    b.add_operator("CONV_2D", inputs, [yi], {"padding": padding, "stride_h": stride, "stride_w": stride,
                                             "fused_activation_function": activation})
    b.set_io([xi], [yi])
    info = dict(weights=weights, bias=bias, x_scale=x_scale, x_zp=x_zp, y_scale=y_scale, y_zp=y_zp,
                w_scales=w_scales, activation=activation)
    return b.build(), info


GROUP_CASES = [  # in_shape, kernel, out_channels, groups, stride, padding, activation
    ((1, 6, 5, 16), 1, 8, 2, 1, "SAME", "NONE"),      # Cf 8: whole words
    ((1, 5, 7, 24), 1, 12, 4, 1, "VALID", "RELU6"),   # Cf 6: a word and a tail
    ((1, 3, 3, 36), 1, 36, 6, 1, "SAME", "NONE"),     # Cf 6, one block of 4 pixels and a pixel left
    ((2, 4, 4, 12), 1, 6, 3, 2, "SAME", "RELU"),      # stride 2, two images
    ((1, 2, 2, 96), 1, 384, 12, 1, "SAME", "NONE"),   # MicroNet's expand layer at 2x2
    ((1, 7, 6, 12), 3, 8, 4, 1, "SAME", "NONE"),      # 3x3: the portable loops on every build
    ((1, 8, 9, 10), 3, 10, 5, 2, "VALID", "NONE"),
]


@pytest.mark.parametrize("case", GROUP_CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-k{c[1]}g{c[3]}s{c[4]}")
def test_group_conv_matches_tflm(kernels, case):
    in_shape, kernel, out_channels, groups, stride, padding, activation = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    for with_bias in (True, False):
        model, info = grouped_conv_model(rng, in_shape, kernel, out_channels, groups, stride, padding, activation,
                                         with_bias)
        x = random_int8(rng, in_shape)
        expected = tflm(model, [x])[0]
        multiplier, shift = qp.conv_channel_quant(info["x_scale"], info["w_scales"], info["y_scale"])
        got = kernels.group_conv2d(x, info["weights"], info["bias"], multiplier=multiplier, shift=shift,
                                   stride=(stride, stride), padding=padding, input_offset=-info["x_zp"],
                                   output_offset=info["y_zp"],
                                   act=qp.activation_range(activation, info["y_scale"], info["y_zp"]))
        assert got.shape == expected.shape
        assert np.count_nonzero(got != expected) == 0


def test_group_conv_channel_map_reads_the_permuted_input(kernels):
    """Reading x through a map equals running the conv on the permuted copy x[..., map]."""
    rng = np.random.default_rng(7)
    model, info = grouped_conv_model(rng, (1, 5, 5, 24), 1, 16, 4, 1, "SAME")
    x = random_int8(rng, (1, 5, 5, 24))
    channel_map = rng.permutation(24).astype(np.int16)
    expected = tflm(model, [np.ascontiguousarray(x[..., channel_map])])[0]
    multiplier, shift = qp.conv_channel_quant(info["x_scale"], info["w_scales"], info["y_scale"])
    got = kernels.group_conv2d(x, info["weights"], info["bias"], multiplier=multiplier, shift=shift,
                               channel_map=channel_map, input_offset=-info["x_zp"], output_offset=info["y_zp"])
    assert np.array_equal(got, expected)


def test_group_conv_refuses_groups_that_do_not_split_the_channels(kernels):
    from flynet_tiny.codegen.host_kernels import KernelError

    x, w = np.zeros((1, 3, 3, 10), np.int8), np.zeros((6, 1, 1, 4), np.int8)  # 10 channels, depth 4
    with pytest.raises(KernelError, match="FN_ERR_SHAPE"):
        kernels.group_conv2d(x, w, None, multiplier=[1 << 30] * 6, shift=[-1] * 6)
    with pytest.raises(KernelError, match="FN_ERR_ARGUMENT"):
        kernels.group_conv2d(np.zeros((1, 3, 3, 8), np.int8), np.zeros((4, 1, 1, 4), np.int8), None,
                             multiplier=[1 << 30] * 4, shift=[-1] * 4, channel_map=[0, 1, 2, 3, 4, 5, 6, 8])


def test_channel_gather(kernels):
    rng = np.random.default_rng(3)
    x = random_int8(rng, (1, 3, 4, 9))
    channel_map = np.array([8, 0, 0, 3, 7], dtype=np.int16)
    assert np.array_equal(kernels.channel_gather(x, channel_map), x[..., channel_map])


# -- Shift-Max: the converter's op chain through the code generator ----------------------------

def shift_max_chain_model(rng, shape, fusions: int, groups: int, activation: str = "NONE") -> bytes:
    """x -> MEAN -> RESHAPE -> FULLY_CONNECTED (C -> 2KC) -> RESHAPE [1,1,1,2KC] -> 2K STRIDED_SLICEs (a_k, b_k);
    x -> SLICE + SLICE + CONCATENATION (shift by C / groups); per k ADD(MUL(x, a_k), MUL(b_k, shifted));
    K = 2: MAXIMUM. Every MUL and ADD output has its own scale; the MAXIMUM's inputs share the output's."""
    n, h, w, c = shape
    shift = c // groups
    b = TFLiteBuilder("shift-max chain")
    grids: dict[int, tuple[float, int]] = {}

    def q(name, shp, grid):
        index = b.add_tensor(name, shp, "int8", scale=grid[0], zero_point=grid[1])
        grids[index] = grid
        return index

    def const(name, values):
        return b.add_constant(name, np.array(values, np.int32))

    def grid(low, high):
        return random_scale(rng, low, high), random_zero_point(rng)

    x_grid = grid(0.02, 0.1)
    xi = q("x", shape, x_grid)
    mean = q("mean", (1, 1, 1, c), grid(0.01, 0.05))
    b.add_operator("MEAN", [xi, const("axes", [1, 2])], [mean], {"keep_dims": True})
    pooled = q("pooled", (1, c), grids[mean])
    b.add_operator("RESHAPE", [mean, const("pooled_shape", [1, c])], [pooled], {"new_shape": [1, c]})
    width = 2 * fusions * c
    coefficient_grid = grid(0.01, 0.03)
    weights = rng.integers(-127, 128, size=(width, c)).astype(np.int8)
    w_scale = 0.004
    fc = q("coefficients", (1, width), coefficient_grid)
    bias = rng.integers(-2000, 2000, width).astype(np.int32)
    b.add_operator("FULLY_CONNECTED", [
        pooled, b.add_tensor("fc_w", weights.shape, "int8", data=weights, scale=w_scale, zero_point=0),
        b.add_tensor("fc_b", (width,), "int32", data=bias, scale=float(np.float32(grids[mean][0]) * np.float32(w_scale)),
                     zero_point=0)], [fc], {"fused_activation_function": "NONE"})
    vector = q("vector", (1, 1, 1, width), coefficient_grid)
    b.add_operator("RESHAPE", [fc, const("vector_shape", [1, 1, 1, width])], [vector], {"new_shape": [1, 1, 1, width]})
    parts = []
    for i in range(2 * fusions):
        part = q(f"coefficient_{i}", (1, 1, 1, c), coefficient_grid)
        b.add_operator("STRIDED_SLICE", [vector, const(f"begin_{i}", [0, 0, 0, i * c]),
                                         const(f"end_{i}", [1, 1, 1, (i + 1) * c]), const(f"strides_{i}", [1, 1, 1, 1])],
                       [part], {"begin_mask": 0, "end_mask": 0})
        parts.append(part)
    head, tail = q("head", (n, h, w, c - shift), x_grid), q("tail", (n, h, w, shift), x_grid)
    b.add_operator("SLICE", [xi, const("head_begin", [0, 0, 0, shift]), const("head_size", [-1, -1, -1, c - shift])],
                   [head])
    b.add_operator("SLICE", [xi, const("tail_begin", [0, 0, 0, 0]), const("tail_size", [n, h, w, shift])], [tail])
    shifted = q("shifted", shape, x_grid)
    b.add_operator("CONCATENATION", [head, tail], [shifted], {"axis": 3})
    out_grid = grid(0.03, 0.1)
    values = []
    for k in range(fusions):
        pa, pb = q(f"pa_{k}", shape, grid(0.02, 0.08)), q(f"pb_{k}", shape, grid(0.02, 0.08))
        b.add_operator("MUL", [xi, parts[2 * k]], [pa], {"fused_activation_function": "NONE"})
        b.add_operator("MUL", [parts[2 * k + 1], shifted], [pb], {"fused_activation_function": "NONE"})
        values.append(q(f"v_{k}", shape, out_grid))
        b.add_operator("ADD", [pa, pb], [values[-1]], {"fused_activation_function": activation})
    y = values[0]
    if fusions == 2:
        y = q("y", shape, out_grid)
        b.add_operator("MAXIMUM", values, [y])
    b.set_io([xi], [y])
    return b.build()


SHIFT_MAX_CASES = [  # shape, K, groups, fused activation of the ADDs
    ((1, 6, 5, 16), 2, 4, "NONE"),
    ((1, 4, 4, 12), 1, 2, "NONE"),
    ((1, 3, 5, 24), 2, 3, "RELU6"),
    ((1, 2, 2, 48), 2, 12, "NONE"),
    ((1, 1, 1, 8), 1, 8, "NONE"),
]


@pytest.mark.parametrize("case", SHIFT_MAX_CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-K{c[1]}g{c[2]}")
def test_fused_shift_max_matches_tflm(case, tmp_path):
    shape, fusions, groups, activation = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    model = shift_max_chain_model(rng, shape, fusions, groups, activation)
    kinds = [layer.kind for layer in build_ir(model).layers]
    assert kinds.count("SHIFT_MAX") == 1 and not {"MUL", "ADD", "MAXIMUM", "CONCATENATION", "SLICE"} & set(kinds)
    fused = HostModel(generate_model_sources(model, tmp_path / "fused"))
    unfused = HostModel(generate_model_sources(model, tmp_path / "unfused", fuse_shift_max=False))
    for _ in range(4):
        x = random_int8(rng, shape)
        expected = tflm(model, [x])[0]
        assert np.array_equal(fused.invoke(x), expected)
        assert np.array_equal(unfused.invoke(x), expected)


EMULATED_CASES = {  # the DSP paths on the Cortex-M4: tables + SMMULR Shift-Max, 1x1 group blocks with a tail
    "shift_max_k2_tables": lambda rng: shift_max_chain_model(rng, (1, 8, 8, 24), 2, 4),
    "shift_max_k1_relu6": lambda rng: shift_max_chain_model(rng, (1, 6, 6, 16), 1, 2, "RELU6"),
    "group_conv_cf6_30_pixels": lambda rng: grouped_conv_model(rng, (1, 6, 5, 24), 1, 12, 4, 1, "SAME")[0],
}


@pytest.mark.parametrize("name", sorted(EMULATED_CASES))
def test_emulated_micronet_kernels_match_tflm(name, tmp_path):
    from test_codegen_arm import assert_emulated_matches_tflm

    assert_emulated_matches_tflm(EMULATED_CASES[name](np.random.default_rng(zlib.crc32(name.encode()))), "f446re",
                                 tmp_path)


def hard_sigmoid_chain_model(rng, shape) -> bytes:
    """The converter's hard-sigmoid and Shift-Max span: ADD 3 (RELU6 fused), MUL 1/6, MUL 4, each on its own
    grid, the constants as one-value int8 tensors."""
    b = TFLiteBuilder("scalar chain")
    grid = {"x": (random_scale(rng, 0.02, 0.1), random_zero_point(rng)), "shifted": (6 / 255, -128),
            "gate": (1 / 255, -128), "coefficient": (4 / 255, -128)}
    tensors = {name: b.add_tensor(name, shape, "int8", scale=s, zero_point=z) for name, (s, z) in grid.items()}
    steps = [("ADD", "x", 3.0, "shifted", "RELU6"), ("MUL", "shifted", 1 / 6, "gate", "NONE"),
             ("MUL", "gate", 4.0, "coefficient", "NONE")]
    for opcode, source, value, result, activation in steps:
        constant = b.add_tensor(f"{result}_constant", (1,), "int8", data=np.array([127], np.int8),
                                scale=value / 127, zero_point=0)
        b.add_operator(opcode, [tensors[source], constant], [tensors[result]],
                       {"fused_activation_function": activation})
    b.set_io([tensors["x"]], [tensors["coefficient"]])
    return b.build()


def test_scalar_chain_is_one_table_equal_to_tflm(tmp_path):
    rng = np.random.default_rng(11)
    model = hard_sigmoid_chain_model(rng, (1, 64))
    assert [layer.kind for layer in build_ir(model).layers] == ["TABLE_CHAIN"]
    host = HostModel(generate_model_sources(model, tmp_path))
    x = np.arange(-128, 128, dtype=np.int16).astype(np.int8).reshape(4, 1, 64)  # every int8 value
    for row in x:
        assert np.array_equal(host.invoke(row), tflm(model, [row])[0])
