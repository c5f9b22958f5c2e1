"""MEAN and REDUCE_MAX over any axes, TRANSPOSE, SPLIT / SPLIT_V, STRIDED_SLICE, PADV2 and the two RESIZE ops,
bit-exact with TFLite Micro one-op models (the parameters the code generator derives included: TFLM's
strided-slice resolution and its resize sample positions)."""

import itertools

import numpy as np
import pytest

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.tflite import TFLiteBuilder
from oneop_models import random_int8, random_scale, random_zero_point, tflm, unary_model


def _q(rng, low=0.005, high=0.1):
    return random_scale(rng, low, high), random_zero_point(rng)


# Every subset of the 4 axes (the empty one too), keep_dims both ways, ranks below 4.
REDUCTIONS = [((2, 5, 7, 6), axes) for r in range(5) for axes in itertools.combinations(range(4), r)]
REDUCTIONS += [((9, 16), (1,)), ((9, 16), (0,)), ((3, 81, 16), (2,)), ((3, 81, 16), (0, 2)), ((6,), (0,))]


@pytest.mark.parametrize("shape, axes", REDUCTIONS, ids=str)
@pytest.mark.parametrize("op", ["MEAN", "REDUCE_MAX"])
def test_reductions_match_tflm(kernels, op, shape, axes):
    rng = np.random.default_rng(len(axes) * 7 + sum(axes) + len(shape))
    x_q = _q(rng)
    y_q = x_q if op == "REDUCE_MAX" or len(axes) == 1 else _q(rng)  # TFLM's REDUCE_MAX keeps the quantization
    for keep_dims in (True, False):
        if not keep_dims and len(axes) == len(shape):
            continue  # a 0-d output, which TFLite Micro's Python interpreter hands back reshaped
        # Negative axes, as the converter writes channel reductions ([-1]).
        written = [a - len(shape) if a == len(shape) - 1 else a for a in axes]
        out_shape = tuple(1 if i in axes else s for i, s in enumerate(shape)) if keep_dims else \
            tuple(s for i, s in enumerate(shape) if i not in axes)
        model = unary_model(op, shape, x_q, y_q, {"keep_dims": keep_dims}, [("axis", np.array(written, dtype=np.int32))],
                            out_shape=out_shape)
        x = random_int8(rng, shape)
        expected = tflm(model, [x])[0]
        got = kernels.mean(x, axes, qp.mean_params(*x_q, *y_q)) if op == "MEAN" else kernels.reduce_max(x, axes)
        assert np.array_equal(got.reshape(expected.shape), expected), keep_dims


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))) + [(0, 2, 1), (2, 0, 1), (1, 0)], ids=str)
def test_transpose_matches_tflm(kernels, perm):
    shape = {4: (2, 3, 4, 5), 3: (3, 4, 5), 2: (4, 6)}[len(perm)]
    rng = np.random.default_rng(sum(i * p for i, p in enumerate(perm)))
    q = _q(rng)
    model = unary_model("TRANSPOSE", shape, q, q, None, [("perm", np.array(perm, dtype=np.int32))],
                        out_shape=tuple(shape[p] for p in perm))
    x = random_int8(rng, shape)
    assert np.array_equal(kernels.transpose(x, perm), tflm(model, [x])[0])


def split_model(shape, axis: int, sizes, q, split_v: bool) -> bytes:
    b = TFLiteBuilder("split")
    xi = b.add_tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    outs = []
    for i, size in enumerate(sizes):
        out_shape = list(shape)
        out_shape[axis] = size
        outs.append(b.add_tensor(f"y{i}", out_shape, "int8", scale=q[0], zero_point=q[1]))
    axis_t = b.add_constant("axis", np.array(axis - len(shape) if axis == len(shape) - 1 else axis, dtype=np.int32))
    if split_v:
        b.add_operator("SPLIT_V", [xi, b.add_constant("sizes", np.array(sizes, dtype=np.int32)), axis_t], outs,
                       {"num_splits": len(sizes)})
    else:
        b.add_operator("SPLIT", [axis_t, xi], outs, {"num_splits": len(sizes)})
    b.set_io([xi], outs)
    return b.build()


@pytest.mark.parametrize("axis", range(4))
@pytest.mark.parametrize("sizes", [(2, 2), (1, 1, 1, 1), (3, 1), (1, 2, 1)], ids=str)
def test_split_and_split_v_match_tflm(kernels, axis, sizes):
    rng = np.random.default_rng(axis)
    shape = [3, 4, 5, 6]
    shape[axis] = sum(sizes)
    q = _q(rng)
    x = random_int8(rng, shape)
    got = kernels.split(x, axis, sizes)
    for split_v in (False, True):
        if not split_v and len(set(sizes)) > 1:
            continue
        expected = tflm(split_model(tuple(shape), axis, sizes, q, split_v), [x])
        assert len(expected) == len(got) and all(np.array_equal(g, e) for g, e in zip(got, expected))


# (shape, begin, end, strides, begin_mask, end_mask, shrink_axis_mask)
STRIDED = [
    ((1, 8, 9, 6), (0, 1, 0, 0), (1, 8, 9, 6), (1, 2, 3, 1), 0, 0, 0),
    ((1, 8, 9, 6), (0, -1, 0, 5), (1, -9, 9, -7), (1, -1, 2, -2), 0, 0, 0),    # negative indices and strides
    ((1, 8, 9, 6), (0, 3, 2, 1), (0, 0, 0, 0), (1, 1, 1, 2), 0b1111, 0b1111, 0),  # masks override begin / end
    ((2, 8, 9, 6), (1, 2, 0, 0), (2, 7, 9, 6), (1, 2, 4, 3), 0b0100, 0b1000, 0b0001),  # shrink the batch axis
    ((8, 9, 6), (0, 0, 1), (8, 9, 6), (3, 1, 1), 0, 0, 0b100),
    ((12, 5), (-2, 0), (-12, 5), (-3, 2), 0, 0, 0),
    ((1, 8, 9, 6), (0, 0, 0, 0), (1, 100, 100, 100), (1, 3, 4, 5), 0, 0, 0),  # ends past the axis are clamped
]


@pytest.mark.parametrize("case", STRIDED, ids=str)
def test_strided_slice_matches_tflm(kernels, case):
    shape, begin, end, strides, begin_mask, end_mask, shrink = case
    rng = np.random.default_rng(len(shape) + sum(strides))
    q = _q(rng)
    axes = qp.strided_slice_axes(shape, begin, end, strides, begin_mask, end_mask, shrink)
    counts = [count for _, count, _ in axes]
    out_shape = tuple(c for i, c in enumerate(counts) if not shrink & (1 << i))
    model = unary_model("STRIDED_SLICE", shape, q, q,
                        {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink},
                        [("begin", np.array(begin, dtype=np.int32)), ("end", np.array(end, dtype=np.int32)),
                         ("strides", np.array(strides, dtype=np.int32))], out_shape=out_shape)
    x = random_int8(rng, shape)
    lead = 4 - len(shape)
    got = kernels.strided_slice(x, [0] * lead + [a[0] for a in axes], [1] * lead + [a[2] for a in axes],
                                (1,) * lead + tuple(counts))
    assert np.array_equal(got.reshape(out_shape), tflm(model, [x])[0])


def test_padv2_pads_with_its_constant(kernels):
    rng = np.random.default_rng(11)
    q = _q(rng)
    x = random_int8(rng, (1, 5, 4, 3))
    paddings = [[1, 0], [0, 2], [1, 1], [2, 1]]
    out_shape = tuple(s + a + b for s, (a, b) in zip(x.shape, paddings))
    builder = TFLiteBuilder("padv2")
    xi = builder.add_tensor("x", x.shape, "int8", scale=q[0], zero_point=q[1])
    value = builder.add_tensor("value", (), "int8", data=np.array(-25, dtype=np.int8), scale=q[0], zero_point=q[1])
    yi = builder.add_tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    builder.add_operator("PADV2", [xi, builder.add_constant("paddings", np.array(paddings, dtype=np.int32)), value],
                         [yi])
    builder.set_io([xi], [yi])
    got = kernels.pad(x, [p[0] for p in paddings], [p[1] for p in paddings], -25)
    assert np.array_equal(got, tflm(builder.build(), [x])[0])


RESIZES = [((1, 4, 5, 3), (8, 10)), ((2, 3, 3, 4), (7, 5)), ((1, 16, 16, 2), (32, 32)), ((1, 9, 7, 3), (4, 3)),
           ((1, 1, 1, 2), (3, 4)), ((1, 5, 6, 1), (5, 6)), ((1, 3, 8, 2), (1, 17))]
MODES = [(False, False), (True, False), (False, True), (True, True)]  # (align_corners, half_pixel_centers)


@pytest.mark.parametrize("shape, size", RESIZES, ids=str)
@pytest.mark.parametrize("op", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
def test_resize_matches_tflm(kernels, op, shape, size):
    rng = np.random.default_rng(shape[1] * 13 + size[1])
    q = _q(rng)
    x = random_int8(rng, shape)
    for align, half in MODES:
        if op == "RESIZE_BILINEAR" and align and half:
            continue  # TFLM refuses the pair
        model = unary_model(op, shape, q, q, {"align_corners": align, "half_pixel_centers": half},
                            [("size", np.array(size, dtype=np.int32))], out_shape=(shape[0], *size, shape[3]))
        if op == "RESIZE_NEAREST_NEIGHBOR":
            rows = qp.resize_nearest_indices(shape[1], size[0], align, half)
            cols = qp.resize_nearest_indices(shape[2], size[1], align, half)
            got = kernels.resize_nearest(x, rows, cols)
        else:
            rows = [v for s in qp.resize_bilinear_samples(shape[1], size[0], align, half) for v in s]
            cols = [v for s in qp.resize_bilinear_samples(shape[2], size[1], align, half) for v in s]
            got = kernels.resize_bilinear(x, rows, cols)
        assert np.array_equal(got, tflm(model, [x])[0]), (align, half)
