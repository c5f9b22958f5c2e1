"""Every kernel run with its output overlapping its input at the offset the code generator computes.

The emitter declares each kernel path's access order (codegen/overlap.py) and the placement writes a
layer's output that many bytes before its input. Here, for random shapes, the declaration comes from
the real emitter (a one-op .tflite through build_ir / emit_layer), the kernel runs with input and output
in one buffer at the computed offset, and its output must equal the output with separate buffers (and
TFLite Micro's). The host build runs the portable paths at the exact offset (alignment 1) and at the
planner's (alignment 16); QEMU runs the DSP paths (im2col blocks, 1x1 tiles, depthwise channel planes)
at the exact offset. A last test shows the harness sees a clobbered input: one step past the offset,
outputs change.
"""

from __future__ import annotations

import numpy as np
import pytest

from flynet_tiny.codegen.emit import emit_layer
from flynet_tiny.codegen.fuse import fuse
from flynet_tiny.codegen.fc_pairs import pointwise_prefers_pairs
from flynet_tiny.codegen.graph import lower
from flynet_tiny.codegen.overlap import ChannelMajor, Overlap, safe_at, safe_offset
from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import TFLiteBuilder, read_tflite
from kernel_probe import ProbeCase, build_probe, host_output, probe_seed, run_probe
from oneop_models import (binary_model, conv_model, quant_tensor, quantize_model, random_int8, random_scale,
                          random_zero_point, tflm, unary_model)


def declared(model: bytes, kind: str | None = None, fuse_mdw: bool = True) -> tuple[Overlap, int, int]:
    """The overlap the emitter declares for the model's (first `kind`, else only computing) layer, and the
    sizes of the input it may overwrite and of the output."""
    ir = fuse(lower(read_tflite(model)), mdw_maxout=fuse_mdw)  # build_ir's steps, any number of model inputs
    layer = next(l for l in ir.layers if kind is None or l.kind == kind)
    code = emit_layer(ir, layer, "l0")
    assert code.overlap is not None, f"{layer.kind} declares no overlap"
    source = layer.inputs[code.overlap.input]
    return code.overlap, ir.tensor(source).nbytes, ir.tensor(layer.outputs[0]).nbytes


def run_overlapped(run, x: np.ndarray, out_shape, d: int) -> np.ndarray:
    """`run(x, out)` with x and out in one buffer, out starting d bytes from x (a fill byte elsewhere)."""
    n_out = int(np.prod(out_shape))
    base = max(0, -d)
    memory = np.full(base + max(x.size, d + n_out) + 16, 0x5A, dtype=np.int8)
    xv = memory[base:base + x.size].reshape(x.shape)
    xv[...] = x
    out = memory[base + d:base + d + n_out].reshape(out_shape)
    run(xv, out)
    return out.copy()


def conv_host(kernels, kind: str, info: dict):
    """The host call for conv_model's layer, taking (x, out=)."""
    mult, shift = qp.conv_channel_quant(info["x_scale"], info["w_scales"], info["y_scale"])
    common = dict(multiplier=mult, shift=shift, stride=info["stride"], padding=info["padding"],
                  input_offset=-info["x_zp"], output_offset=info["y_zp"],
                  act=qp.activation_range(info["activation"], info["y_scale"], info["y_zp"]))
    w, b = info["weights"], info["bias"]
    if kind == "conv":
        return lambda x, out=None: kernels.conv2d(x, w, b, **common, out=out)
    if kind == "depthwise":
        return lambda x, out=None: kernels.depthwise_conv2d(x, w, b, depth_multiplier=info["heads"], **common, out=out)
    return lambda x, out=None: kernels.mdw_maxout(x, w, b, heads=info["heads"], **common, out=out)


def random_conv_case(rng, kind: str):
    """A random conv-like geometry: odd sizes, strides 1-2 each way, SAME / VALID / explicit pads, heads."""
    k = int(rng.choice([1, 3, 5] if kind == "conv" else [3, 3, 5, 1]))
    h, w = int(rng.integers(max(1, k - 2), 22)), int(rng.integers(max(1, k - 2), 22))
    c = int(rng.choice([1, 3, 4, 5, 8, 12, 16, 20]))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = rng.choice(["SAME", "VALID", "explicit"])
    if padding == "explicit":
        padding = tuple(int(p) for p in rng.integers(0, k, size=4)) if k > 1 else "SAME"
    elif padding == "VALID" and (h < k or w < k):
        padding = "SAME"
    heads = 1 if kind == "conv" else int(rng.integers(1, 4))
    out_channels = int(rng.choice([1, 2, 5, 8, 16, 24])) if kind == "conv" else 0
    activation = str(rng.choice(["NONE", "RELU6"]))
    batch = 2 if rng.random() < 0.2 and isinstance(padding, str) else 1  # a PAD folds into the conv at batch 1
    return (batch, h, w, c), (k, k), out_channels, stride, \
        str(padding) if isinstance(padding, str) else padding, heads, activation


@pytest.mark.parametrize("kind", ["conv", "depthwise", "mdw"])
@pytest.mark.parametrize("seed", range(16))
def test_conv_kernels_overlapped_at_the_planned_offset_match(kernels, kind, seed):
    rng = np.random.default_rng(7000 + 100 * seed + ["conv", "depthwise", "mdw"].index(kind))
    in_shape, k, oc, stride, padding, heads, activation = random_conv_case(rng, kind)
    model, inputs, info = conv_model(rng, kind, in_shape, k, oc, stride, padding, heads=heads, activation=activation)
    overlap, n_in, n_out = declared(model)
    run = conv_host(kernels, kind, info)
    x = inputs[0]
    expected = tflm(model, inputs)[0]
    assert np.array_equal(run(x), expected)
    offsets = {safe_offset(overlap, n_in, n_out, alignment, dsp_kernels=False) for alignment in (1, 16)}
    offsets.discard(None)
    for d in offsets:
        got = run_overlapped(run, x, expected.shape, d)
        assert np.count_nonzero(got != expected) == 0, f"offset {d}"


def test_most_conv_layers_overlap(kernels):
    """The overlap is not vacuous: on the random geometries most layers get an offset above -output size."""
    found = 0
    for seed in range(16):
        for kind in ("conv", "depthwise", "mdw"):
            rng = np.random.default_rng(7000 + 100 * seed + ["conv", "depthwise", "mdw"].index(kind))
            in_shape, k, oc, stride, padding, heads, activation = random_conv_case(rng, kind)
            model, _, _ = conv_model(rng, kind, in_shape, k, oc, stride, padding, heads=heads, activation=activation)
            overlap, n_in, n_out = declared(model)
            found += safe_offset(overlap, n_in, n_out, 1, dsp_kernels=True) is not None
    assert found >= 40


POOLS = [((1, 9, 9, 5), (2, 2), (2, 2), "VALID"), ((1, 7, 9, 3), (3, 3), (2, 2), "SAME"),
         ((2, 5, 4, 6), (3, 2), (1, 1), "SAME"), ((1, 12, 10, 8), (3, 3), (1, 1), "SAME"),
         ((1, 6, 6, 9), (6, 6), (1, 1), "VALID"), ((1, 11, 7, 4), (2, 3), (1, 2), "SAME")]


@pytest.mark.parametrize("case", POOLS, ids=str)
@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_pooling_overlapped_matches(kernels, op, case):
    shape, filt, stride, padding = case
    rng = np.random.default_rng(sum(shape) + filt[0])
    q = (random_scale(rng), random_zero_point(rng))
    out_h, _ = qp.conv_padding(padding, shape[1], filt[0], stride[0])
    out_w, _ = qp.conv_padding(padding, shape[2], filt[1], stride[1])
    options = {"padding": padding, "stride_h": stride[0], "stride_w": stride[1], "filter_height": filt[0],
               "filter_width": filt[1], "fused_activation_function": "NONE"}
    model = unary_model(op, shape, q, q, options, out_shape=(shape[0], out_h, out_w, shape[3]))
    x = random_int8(rng, shape)
    expected = tflm(model, [x])[0]
    overlap, n_in, n_out = declared(model)
    pool = kernels.avgpool if op == "AVERAGE_POOL_2D" else kernels.maxpool
    d = safe_offset(overlap, n_in, n_out, 1, dsp_kernels=False)
    if d is None:  # a global pool reads every pixel before it writes its one pixel
        assert expected.shape[1:3] == (1, 1)
        return
    got = run_overlapped(lambda xv, out: pool(xv, filt, stride, padding, out=out), x, expected.shape, d)
    assert np.count_nonzero(got != expected) == 0


@pytest.mark.parametrize("op", ["ADD", "MUL", "MAXIMUM"])
def test_elementwise_ops_write_over_their_input(kernels, op):
    rng = np.random.default_rng(["ADD", "MUL", "MAXIMUM"].index(op))
    for shapes in [((1, 5, 7, 3), (1, 5, 7, 3)), ((1, 4, 6, 5), (1, 1, 1, 5)), ((1, 3, 9, 4), (1, 3, 9, 4))]:
        a_q, b_q, y_q = [(random_scale(rng), random_zero_point(rng)) for _ in range(3)]
        if op == "MAXIMUM":
            b_q = y_q = a_q
        model = binary_model(op, shapes[0], shapes[1], a_q, b_q, y_q)
        a, b = random_int8(rng, shapes[0]), random_int8(rng, shapes[1])
        expected = tflm(model, [a, b])[0]
        overlap, n_in, n_out = declared(model)
        assert overlap.input == 0 and safe_offset(overlap, n_in, n_out, 1) == 0
        if op == "MAXIMUM":
            run = lambda av, out: kernels.maximum(av, b, out=out)  # noqa: E731
        else:
            params = (qp.add_params if op == "ADD" else qp.mul_params)(*a_q, *b_q, *y_q)
            params["act_min"], params["act_max"] = -128, 127
            run = lambda av, out: (kernels.add if op == "ADD" else kernels.mul)(av, b, params, out=out)  # noqa: E731
        assert np.count_nonzero(run_overlapped(run, a, expected.shape, 0) != expected) == 0


def test_lookup_tables_softmax_and_maxout_write_over_their_input(kernels):
    rng = np.random.default_rng(5)
    shape = (1, 6, 5, 7)
    x_q = (random_scale(rng, 0.02, 0.1), random_zero_point(rng))
    x = random_int8(rng, shape)
    # HARD_SWISH becomes fn_lut_s8 over a table.
    model = unary_model("HARD_SWISH", shape, x_q, (random_scale(rng, 0.02, 0.1), random_zero_point(rng)))
    overlap, n_in, n_out = declared(model)
    assert safe_offset(overlap, n_in, n_out, 1) == 0
    table = random_int8(rng, (200,))
    expected = kernels.lut(x, -90, table)
    assert np.count_nonzero(run_overlapped(lambda v, out: kernels.lut(v, -90, table, out=out), x, shape, 0)
                            != expected) == 0
    # SOFTMAX over the channels of every pixel.
    model = unary_model("SOFTMAX", shape, x_q, (1.0 / 256, -128), {"beta": 1.0})
    overlap, n_in, n_out = declared(model)
    assert safe_offset(overlap, n_in, n_out, 1) == 0
    expected = tflm(model, [x])[0]
    params = qp.softmax_params(x_q[0], 1.0)
    assert np.count_nonzero(run_overlapped(lambda v, out: kernels.softmax(v, params, out=out), x, shape, 0)
                            != expected) == 0
    # Max-out over heads (an MDW left unfused): output g lands on index g of its own window.
    model, _, _ = conv_model(rng, "mdw", (1, 5, 4, 6), (3, 3), 0, (1, 1), "SAME", heads=3)
    overlap, n_in, n_out = declared(model, "MAXOUT", fuse_mdw=False)
    assert safe_offset(overlap, n_in, n_out, 1) == 0
    wide = random_int8(rng, (1, 5, 4, 18))
    expected = kernels.maxout(wide, 3)
    assert np.count_nonzero(run_overlapped(lambda v, out: kernels.maxout(v, 3, out=out), wide, expected.shape, 0)
                            != expected) == 0


def concat_case(rng):
    """A random CONCATENATION: 2 or 3 inputs of random sizes along axis 1, 2 or 3, batch 1 or 2."""
    axis = int(rng.integers(1, 4))
    base = [int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 9))]
    shapes = []
    for _ in range(int(rng.integers(2, 4))):
        shape = list(base)
        shape[axis] = int(rng.integers(1, 40))
        shapes.append(tuple(shape))
    out_shape = list(base)
    out_shape[axis] = sum(shape[axis] for shape in shapes)
    q = (random_scale(rng), random_zero_point(rng))
    b = TFLiteBuilder("concat")
    ins = [quant_tensor(b, f"x{i}", shape, *q) for i, shape in enumerate(shapes)]
    y = quant_tensor(b, "y", out_shape, *q)
    b.add_operator("CONCATENATION", ins, [y], {"axis": axis})
    b.set_io(ins, [y])
    return b.build(), [random_int8(rng, shape) for shape in shapes], axis


@pytest.mark.parametrize("seed", range(24))
def test_concat_overlapped_at_the_planned_offset_matches(kernels, seed):
    """The output goes over the largest input, which the memcpy calls copy slice by slice."""
    rng = np.random.default_rng(900 + seed)
    model, xs, axis = concat_case(rng)
    expected = tflm(model, xs)[0]
    overlap, n_in, n_out = declared(model)
    assert n_in == max(x.nbytes for x in xs) and xs[overlap.input].nbytes == n_in

    def run(xv, out):
        return kernels.concat([xv if i == overlap.input else x for i, x in enumerate(xs)], axis, out=out)

    offsets = {safe_offset(overlap, n_in, n_out, alignment) for alignment in (1, 16)}
    if np.prod(xs[0].shape[:axis]) > 1:  # several slices: all but the input's last go over input already copied
        assert None not in offsets
    offsets.discard(None)
    for d in offsets:
        assert np.array_equal(run_overlapped(run, xs[overlap.input], expected.shape, d), expected), f"offset {d}"


def resize_case(op: str, shape, size, align: bool, half: bool):
    q = (0.05, 3)
    model = unary_model(op, shape, q, q, {"align_corners": align, "half_pixel_centers": half},
                        [("size", np.array(size, dtype=np.int32))], out_shape=(shape[0], *size, shape[3]))
    if op == "RESIZE_NEAREST_NEIGHBOR":
        rows = qp.resize_nearest_indices(shape[1], size[0], align, half)
        cols = qp.resize_nearest_indices(shape[2], size[1], align, half)
        return model, lambda kernels, xv, out=None: kernels.resize_nearest(xv, rows, cols, out=out)
    rows = [v for s in qp.resize_bilinear_samples(shape[1], size[0], align, half) for v in s]
    cols = [v for s in qp.resize_bilinear_samples(shape[2], size[1], align, half) for v in s]
    return model, lambda kernels, xv, out=None: kernels.resize_bilinear(xv, rows, cols, out=out)


# Up (2x, as the segmentation head; odd factors), down, mixed (where an output row's last read is its upper
# sample row), batch 2, and one row or column.
RESIZE_CASES = [((1, 4, 5, 3), (8, 10)), ((2, 3, 3, 4), (7, 5)), ((1, 16, 16, 2), (32, 32)), ((1, 9, 7, 3), (4, 3)),
                ((1, 1, 1, 2), (3, 4)), ((1, 5, 6, 1), (5, 6)), ((1, 3, 8, 2), (1, 17)), ((1, 6, 4, 16), (12, 8)),
                ((2, 5, 7, 5), (11, 3)), ((1, 9, 2, 3), (4, 12)), ((1, 2, 9, 3), (12, 4)), ((1, 7, 3, 2), (3, 9))]
RESIZE_MODES = [(False, False), (True, False), (False, True), (True, True)]  # (align_corners, half_pixel_centers)


@pytest.mark.parametrize("shape, size", RESIZE_CASES, ids=str)
@pytest.mark.parametrize("op", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
def test_resize_overlapped_at_the_planned_offset_matches(kernels, op, shape, size):
    rng = np.random.default_rng(shape[1] * 31 + size[0])
    x = random_int8(rng, shape)
    for align, half in RESIZE_MODES:
        if op == "RESIZE_BILINEAR" and align and half:
            continue  # TFLM refuses the pair
        model, resize = resize_case(op, shape, size, align, half)
        expected = tflm(model, [x])[0]
        overlap, n_in, n_out = declared(model)
        offsets = {safe_offset(overlap, n_in, n_out, alignment) for alignment in (1, 16)}
        if size[0] * size[1] >= shape[1] * shape[2]:  # an upsampling output can start before its input
            assert safe_offset(overlap, n_in, n_out, 1) is not None, (align, half)
        offsets.discard(None)
        for d in offsets:
            got = run_overlapped(lambda xv, out: resize(kernels, xv, out), x, expected.shape, d)
            assert np.array_equal(got, expected), f"{(align, half)} at offset {d}"


def test_a_resize_or_concat_past_the_offset_clobbers_its_input(kernels):
    """The harness sees a clobbered input: a 2x upsampling output 6 bytes (1.5 pixels) higher, or a concatenation
    output one pixel higher."""
    rng = np.random.default_rng(8)
    x = random_int8(rng, (1, 6, 6, 4))
    for op in ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"):
        model, resize = resize_case(op, x.shape, (12, 12), False, True)
        overlap, n_in, n_out = declared(model)
        d = safe_offset(overlap, n_in, n_out, 1)
        expected = resize(kernels, x)
        assert np.array_equal(run_overlapped(lambda xv, out: resize(kernels, xv, out), x, expected.shape, d), expected)
        assert not np.array_equal(run_overlapped(lambda xv, out: resize(kernels, xv, out), x, expected.shape, d + 6),
                                  expected)
    small, large = random_int8(rng, (1, 5, 5, 3)), random_int8(rng, (1, 5, 5, 8))
    b = TFLiteBuilder("concat")
    ins = [quant_tensor(b, "a", small.shape, 0.05, 0), quant_tensor(b, "b", large.shape, 0.05, 0)]
    y = quant_tensor(b, "y", (1, 5, 5, 11), 0.05, 0)
    b.add_operator("CONCATENATION", ins, [y], {"axis": 3})
    b.set_io(ins, [y])
    overlap, n_in, n_out = declared(b.build())
    d = safe_offset(overlap, n_in, n_out, 1)
    # The output ends where the large input's last pixel starts: that memcpy may not overlap its destination.
    assert overlap.input == 1 and d + n_out == n_in - 8
    expected = kernels.concat([small, large], 3)

    def run(xv, out):
        return kernels.concat([small, xv], 3, out=out)

    assert np.array_equal(run_overlapped(run, large, expected.shape, d), expected)
    assert not np.array_equal(run_overlapped(run, large, expected.shape, d + 11), expected)


def test_dequantize_writes_its_floats_over_its_own_int8(kernels):
    """DEQUANTIZE runs from the last value down, so its float32 output may start at its int8 input (TFLM's
    bits); a float lower, value 1 lands on value 0 before it is read."""
    rng = np.random.default_rng(12)
    size, q = 301, (0.0371, -7)
    x = random_int8(rng, (1, size))
    expected = tflm(quantize_model("int8", q, "float32", None, size), [x])[0]
    overlap, n_in, n_out = declared(quantize_model("int8", q, "float32", None, size))
    assert (n_in, n_out) == (size, 4 * size) and safe_offset(overlap, n_in, n_out, 1) == 0

    def overlapped(d: int) -> np.ndarray:
        memory = np.full(16 + 4 * size + 16, 0x5A, dtype=np.int8)
        xv = memory[16:16 + size].reshape(x.shape)
        xv[...] = x
        out = memory[16 + d:16 + d + 4 * size].view(np.float32).reshape(x.shape)
        kernels.dequantize(xv, np.float32(q[0]), q[1], out=out)
        return out.copy()

    assert overlapped(0).tobytes() == expected.tobytes()
    assert overlapped(-4).tobytes() != expected.tobytes()


def test_eca_keeps_each_channel_on_itself():
    """ECA scales channel by channel (stride C): an output may only land on its own channel, so in place
    (tests/kernels/test_kernels_eca.py runs it) or whole pixels below; never a channel off."""
    overlap = Overlap(0, (ChannelMajor((1, 6, 5, 8)),), "")
    assert safe_offset(overlap, 240, 240, 1) == 0
    read, write = ChannelMajor((1, 6, 5, 8)).times()
    assert [d for d in range(-16, 1) if safe_at(read, write, d)] == [-16, -8, 0]


def test_a_step_past_the_offset_clobbers_the_input(kernels):
    """The harness can fail: one output pixel further up, a depthwise and a conv output change."""
    for kind, in_shape, k, oc in (("depthwise", (1, 9, 8, 6), (3, 3), 0), ("conv", (1, 9, 8, 6), (3, 3), 6)):
        rng = np.random.default_rng(3)
        model, inputs, info = conv_model(rng, kind, in_shape, k, oc, (1, 1), "SAME")
        overlap, n_in, n_out = declared(model)
        d = safe_offset(overlap, n_in, n_out, 1, dsp_kernels=False)
        run = conv_host(kernels, kind, info)
        expected = run(inputs[0])
        assert np.array_equal(run_overlapped(run, inputs[0], expected.shape, d), expected)
        assert not np.array_equal(run_overlapped(run, inputs[0], expected.shape, d + 2 * in_shape[3]), expected)


# ---- DSP paths in QEMU -------------------------------------------------------

def _probe_offset(case: ProbeCase, dsp_kernels: bool = True) -> int | None:
    rng = np.random.default_rng(0)
    model, _, _ = conv_model(rng, case.kind, case.in_shape, (case.kernel, case.kernel), case.out_channels,
                             case.strides, case.padding, heads=case.heads)
    overlap, n_in, n_out = declared(model)
    return safe_offset(overlap, n_in, n_out, 1, dsp_kernels=dsp_kernels)


def _random_probe_cases(count: int, seed: int) -> list[ProbeCase]:
    rng = np.random.default_rng(seed)
    cases = []
    kinds = ["conv", "depthwise", "mdw"]
    for i in range(count):
        kind = kinds[i % 3]
        k = int(rng.choice([1, 3] if kind == "conv" else [3, 5]))
        h, w = int(rng.integers(k, 26)), int(rng.integers(k, 26))
        c = int(rng.choice([3, 4, 8, 12, 16, 24, 30]))
        stride = int(rng.integers(1, 3))
        if k == 1 and stride == 1 and pointwise_prefers_pairs(h * w, c, 0):
            h = w = 5  # a 1x1 conv on so few pixels is generated as a row-pair FC, not this kernel
        cases.append(ProbeCase(f"overlap_{kind}{k}_{i}", kind, (1, h, w, c), k,
                               out_channels=int(rng.choice([2, 5, 8, 16])) if kind == "conv" else 0,
                               stride=stride, padding=str(rng.choice(["SAME", "VALID"])),
                               heads=1 if kind == "conv" else int(rng.integers(1, 4))))
    return cases


# Shapes the DSP paths branch on: several bands and 4-plane groups, 5x5 planes, 1x1 tiles with pixels left over.
DSP_CASES = [
    ProbeCase("overlap_dw3x3_bands_4planes", "depthwise", (1, 24, 8, 24), 3),
    ProbeCase("overlap_mdw3x3_s2_bands", "mdw", (1, 23, 9, 12), 3, heads=3, stride=2),
    ProbeCase("overlap_dw5x5_4planes", "depthwise", (1, 20, 7, 64), 5),
    ProbeCase("overlap_dw3x3_c3", "depthwise", (1, 12, 12, 3), 3),
    ProbeCase("overlap_conv1x1_tiles", "conv", (1, 7, 7, 16), 1, out_channels=6),
    ProbeCase("overlap_conv1x1_expand", "conv", (1, 6, 9, 8), 1, out_channels=48),
    ProbeCase("overlap_conv3x3_s2_stem", "conv", (1, 16, 16, 3), 3, out_channels=8, stride=2),
]


# Depthwise with 2 heads writes every pixel of a channel group's outputs before the next group is read:
# the channel planes allow no overlap, where the portable path's raster order would.
PLANES_ONLY = ProbeCase("dw3x3_h2_at_portable_offset", "depthwise", (1, 6, 22, 16), 3, heads=2)


def test_dsp_paths_overlapped_in_qemu_match(kernels, tmp_path):
    cases = []
    for case in DSP_CASES + _random_probe_cases(18, 11):
        d = _probe_offset(case)
        if d is not None:
            cases.append(ProbeCase(**{**case.__dict__, "overlap": d}))
    assert len(cases) >= 20
    # The check can fail: at the offset only the portable order allows, the planes clobber their input.
    assert _probe_offset(PLANES_ONLY) is None
    cases.append(ProbeCase(**{**PLANES_ONLY.__dict__, "overlap": _probe_offset(PLANES_ONLY, dsp_kernels=False)}))
    expected = [host_output(kernels, case, probe_seed(i)) for i, case in enumerate(cases)]
    for target_name in ("f446re", "f746zg"):
        target = load_target(target_name)
        build = build_probe(tmp_path / target_name, target, cases, portable=False)
        run = run_probe(build.elf, target, cases)
        for i, case in enumerate(cases[:-1]):
            assert run.outputs[i] == expected[i], f"{target_name} {case.name} at offset {case.overlap}"
        assert run.outputs[-1] != expected[-1]
