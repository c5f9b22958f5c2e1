"""Small int8 `.tflite` models for the code generator's tests, built with TFLiteBuilder.

Scales are chosen from the fan-in so activations spread over the int8 range
instead of saturating, which makes bit-exactness a meaningful check.
"""

from __future__ import annotations

import math

import numpy as np

from flynet_tiny.tflite import TFLiteBuilder


def out_size(size: int, k: int, stride: int, padding: str) -> int:
    return math.ceil(size / stride) if padding == "SAME" else (size - k) // stride + 1


class ModelMaker:
    """A thin layer-by-layer wrapper over TFLiteBuilder: each method adds one op and returns its output."""

    def __init__(self, seed: int, description: str = "codegen test model"):
        self.rng = np.random.default_rng(seed)
        self.b = TFLiteBuilder(description)
        self.meta: dict[int, tuple[tuple[int, ...], float, int]] = {}
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def tensor(self, shape, scale, zero_point, name=None) -> int:
        index = self.b.add_tensor(name or self._name("t"), shape, "int8", scale=scale, zero_point=zero_point)
        self.meta[index] = (tuple(shape), float(np.float32(scale)), int(zero_point))
        return index

    def input(self, shape) -> int:
        return self.tensor(shape, 0.02, int(self.rng.integers(-20, 20)), name="input")

    def shape(self, t):
        return self.meta[t][0]

    def scale(self, t):
        return self.meta[t][1]

    def _out(self, shape, acc_scale, name):
        return self.tensor(shape, acc_scale, int(self.rng.integers(-10, 10)), name=name)

    def conv(self, x, out_c, k=3, stride=1, padding="SAME", act="NONE", kind="conv"):
        n, h, w, c = self.shape(x)
        name = self._name(kind)
        oh, ow = out_size(h, k, stride, padding), out_size(w, k, stride, padding)
        weights = self.rng.integers(-127, 128, size=(out_c, k, k, c), dtype=np.int8)
        w_scales = self.rng.uniform(0.002, 0.01, size=out_c).astype(np.float32)
        bias = self.rng.integers(-2000, 2000, size=out_c).astype(np.int32)
        wt = self.b.add_tensor(f"{name}/w", weights.shape, "int8", data=weights, scale=w_scales, zero_point=0)
        bt = self.b.add_tensor(f"{name}/b", [out_c], "int32", data=bias, scale=self.scale(x) * w_scales, zero_point=0)
        y = self._out((n, oh, ow, out_c), self.scale(x) * float(w_scales.mean()) * math.sqrt(k * k * c) * 40, name)
        self.b.add_operator("CONV_2D", [x, wt, bt], [y], {"padding": padding, "stride_w": stride, "stride_h": stride,
                                                          "fused_activation_function": act})
        return y

    def depthwise(self, x, k=3, stride=1, multiplier=1, padding="SAME", act="NONE", bias=True):
        n, h, w, c = self.shape(x)
        name = self._name("dw")
        oh, ow = out_size(h, k, stride, padding), out_size(w, k, stride, padding)
        oc = c * multiplier
        weights = self.rng.integers(-127, 128, size=(1, k, k, oc), dtype=np.int8)
        w_scales = self.rng.uniform(0.005, 0.02, size=oc).astype(np.float32)
        wt = self.b.add_tensor(f"{name}/w", weights.shape, "int8", data=weights, scale=w_scales, zero_point=0,
                               quantized_dimension=3)
        inputs = [x, wt]
        if bias:
            b = self.rng.integers(-2000, 2000, size=oc).astype(np.int32)
            inputs.append(self.b.add_tensor(f"{name}/b", [oc], "int32", data=b, scale=self.scale(x) * w_scales,
                                            zero_point=0))
        else:
            inputs.append(-1)
        y = self._out((n, oh, ow, oc), self.scale(x) * float(w_scales.mean()) * k * 40, name)
        self.b.add_operator("DEPTHWISE_CONV_2D", inputs, [y], {
            "padding": padding, "stride_w": stride, "stride_h": stride, "depth_multiplier": multiplier,
            "fused_activation_function": act})
        return y

    def mdw_reshape_maxout(self, x, heads, k=3, stride=1):
        return self.mdw_reshape_maxout_of(self.depthwise(x, k=k, stride=stride, multiplier=heads), heads)

    def mdw_reshape_maxout_of(self, d, heads):
        """RESHAPE [n,h,w,c,heads] + REDUCE_MAX over heads, the converter's Max-out, on any tensor."""
        n, h, w, ch = self.shape(d)
        c = ch // heads
        s, zp = self.meta[d][1], self.meta[d][2]
        split = self.tensor((n, h, w, c, heads), s, zp, name=self._name("maxout_split"))
        shape = self.b.add_constant(self._name("shape"), np.array([n, h, w, c, heads], dtype=np.int32))
        self.b.add_operator("RESHAPE", [d, shape], [split], {"new_shape": [n, h, w, c, heads]})
        axis = self.b.add_constant(self._name("axis"), np.array([4], dtype=np.int32))
        y = self.tensor((n, h, w, c), s, zp, name=self._name("maxout"))
        self.b.add_operator("REDUCE_MAX", [split, axis], [y], {"keep_dims": False})
        return y

    def mdw_slice_maxout_valid(self, x, heads, k=3):
        return self.mdw_slice_maxout(x, heads, k=k, padding="VALID")

    def mdw_slice_maxout(self, x, heads, k=3, stride=1, padding="SAME"):
        d = self.depthwise(x, k=k, stride=stride, multiplier=heads, padding=padding)
        n, h, w, ch = self.shape(d)
        c = ch // heads
        s, zp = self.meta[d][1], self.meta[d][2]
        parts = []
        for j in range(heads):
            begin = self.b.add_constant(self._name("begin"), np.array([0, 0, 0, j], dtype=np.int32))
            end = self.b.add_constant(self._name("end"), np.array([n, h, w, ch], dtype=np.int32))
            strides = self.b.add_constant(self._name("strides"), np.array([1, 1, 1, heads], dtype=np.int32))
            part = self.tensor((n, h, w, c), s, zp, name=self._name("head"))
            self.b.add_operator("STRIDED_SLICE", [d, begin, end, strides], [part], {})
            parts.append(part)
        y = parts[0]
        for part in parts[1:]:
            z = self.tensor((n, h, w, c), s, zp, name=self._name("maxout"))
            self.b.add_operator("MAXIMUM", [y, part], [z])
            y = z
        return y

    def add(self, a, b, act="NONE"):
        y = self._out(np.broadcast_shapes(self.shape(a), self.shape(b)), max(self.scale(a), self.scale(b)) * 1.5,
                      self._name("add"))
        self.b.add_operator("ADD", [a, b], [y], {"fused_activation_function": act})
        return y

    def mul(self, a, b):
        y = self._out(np.broadcast_shapes(self.shape(a), self.shape(b)), self.scale(a) * self.scale(b) * 60,
                      self._name("mul"))
        self.b.add_operator("MUL", [a, b], [y], {})
        return y

    def unary(self, op, x):
        if op in ("LOGISTIC", "SOFTMAX"):
            y = self.tensor(self.shape(x), 1.0 / 256, -128, name=self._name(op.lower()))
        else:
            y = self._out(self.shape(x), self.scale(x) * 0.7, self._name(op.lower()))
        self.b.add_operator(op, [x], [y], {"beta": 1.0} if op == "SOFTMAX" else None)
        return y

    def mean(self, x, keep_dims=True):
        n, h, w, c = self.shape(x)
        axes = self.b.add_constant(self._name("axes"), np.array([1, 2], dtype=np.int32))
        y = self._out((n, 1, 1, c) if keep_dims else (n, c), self.scale(x) * 0.5, self._name("mean"))
        self.b.add_operator("MEAN", [x, axes], [y], {"keep_dims": keep_dims})
        return y

    def same_scale(self, x, shape, name):
        return self.tensor(shape, self.meta[x][1], self.meta[x][2], name=self._name(name))

    def reshape(self, x, shape):
        y = self.same_scale(x, shape, "reshape")
        s = self.b.add_constant(self._name("shape"), np.array(shape, dtype=np.int32))
        self.b.add_operator("RESHAPE", [x, s], [y], {"new_shape": list(shape)})
        return y

    def fully_connected(self, x, out_features, act="NONE"):
        in_features = self.shape(x)[-1]
        name = self._name("fc")
        weights = self.rng.integers(-127, 128, size=(out_features, in_features), dtype=np.int8)
        w_scale = 0.01
        bias = self.rng.integers(-2000, 2000, size=out_features).astype(np.int32)
        wt = self.b.add_tensor(f"{name}/w", weights.shape, "int8", data=weights, scale=w_scale, zero_point=0)
        bt = self.b.add_tensor(f"{name}/b", [out_features], "int32", data=bias, scale=self.scale(x) * w_scale,
                               zero_point=0)
        y = self._out((1, out_features), self.scale(x) * w_scale * math.sqrt(in_features) * 40, name)
        self.b.add_operator("FULLY_CONNECTED", [x, wt, bt], [y], {"fused_activation_function": act})
        return y

    def pool(self, op, x, k=2, stride=2, padding="VALID"):
        n, h, w, c = self.shape(x)
        oh, ow = out_size(h, k, stride, padding), out_size(w, k, stride, padding)
        y = self.same_scale(x, (n, oh, ow, c), op.lower())
        self.b.add_operator(op, [x], [y], {"padding": padding, "stride_w": stride, "stride_h": stride,
                                           "filter_width": k, "filter_height": k})
        return y

    def pad(self, x, before_after):
        shape = tuple(s + a + b for s, (a, b) in zip(self.shape(x), before_after))
        y = self.same_scale(x, shape, "pad")
        p = self.b.add_constant(self._name("paddings"), np.array(before_after, dtype=np.int32))
        self.b.add_operator("PAD", [x, p], [y])
        return y

    def slice(self, x, begin, size):
        y = self.same_scale(x, tuple(size), "slice")
        bt = self.b.add_constant(self._name("begin"), np.array(begin, dtype=np.int32))
        st = self.b.add_constant(self._name("size"), np.array(size, dtype=np.int32))
        self.b.add_operator("SLICE", [x, bt, st], [y])
        return y

    def concat(self, parts, axis=3):
        shape = list(self.shape(parts[0]))
        shape[axis] = sum(self.shape(p)[axis] for p in parts)
        y = self.same_scale(parts[0], tuple(shape), "concat")
        self.b.add_operator("CONCATENATION", parts, [y], {"axis": axis})
        return y

    def build(self, x, y) -> bytes:
        self.b.set_io([x], [y])
        return self.b.build()


def edges_model() -> bytes:
    """Every edge kernel in one model: uint8 and float32 inputs, an int8 requantize inside, float32 and uint8
    outputs. u [1,256] uint8 -> QUANTIZE -> a -> QUANTIZE (rescale) -> c -> DEQUANTIZE -> float32 output;
    f [1,64] float32 -> QUANTIZE -> b -> QUANTIZE -> uint8 output."""
    b = TFLiteBuilder("edges")
    u = b.add_tensor("u", [1, 256], "uint8", scale=0.02, zero_point=131)
    f = b.add_tensor("f", [1, 64], "float32")
    a = b.add_tensor("a", [1, 256], "int8", scale=0.02, zero_point=3)
    q = b.add_tensor("b", [1, 64], "int8", scale=0.0731, zero_point=-17)
    c = b.add_tensor("c", [1, 256], "int8", scale=0.0177, zero_point=-40)
    out_f = b.add_tensor("out_float", [1, 256], "float32")
    out_u = b.add_tensor("out_uint8", [1, 64], "uint8", scale=0.05, zero_point=120)
    b.add_operator("QUANTIZE", [u], [a])
    b.add_operator("QUANTIZE", [f], [q])
    b.add_operator("QUANTIZE", [a], [c])
    b.add_operator("DEQUANTIZE", [c], [out_f])
    b.add_operator("QUANTIZE", [q], [out_u])
    b.set_io([u, f], [out_f, out_u])
    return b.build()


def edge_samples(count: int) -> list[list[np.ndarray]]:
    """Samples for `edges_model`: every uint8 value, and floats on the int8 grid, halfway between its steps
    (both signs: rounded away from zero), just inside a half, and far outside the range."""
    rng = np.random.default_rng(4)
    scale = float(np.float32(0.0731))
    steps = np.arange(-32, 32, dtype=np.float64)
    grids = [(steps + 0.5) * scale, (steps - 0.5) * scale, steps * scale * 5,
             np.nextafter(((steps + 0.5) * scale).astype(np.float32), np.float32(0)).astype(np.float64)]
    samples = []
    for i in range(count):
        floats = grids[i] if i < len(grids) else rng.uniform(-12, 12, 64)
        samples.append([rng.permutation(256).astype(np.uint8).reshape(1, 256),
                        np.asarray(floats, dtype=np.float32).reshape(1, 64)])
    return samples


def conv_chain_model(seed: int = 0) -> bytes:
    """conv -> depthwise -> 1x1 conv -> residual add -> hard-swish -> mean -> fc -> softmax."""
    m = ModelMaker(seed, "conv chain")
    x = m.input((1, 12, 12, 3))
    a = m.conv(x, 8, k=3, stride=2, act="RELU6")
    b = m.depthwise(a, k=3, act="RELU")
    c = m.conv(b, 8, k=1)
    d = m.add(c, a)
    e = m.unary("HARD_SWISH", d)
    f = m.mean(e, keep_dims=True)
    g = m.reshape(f, (1, 8))
    h = m.fully_connected(g, 5)
    return m.build(x, m.unary("SOFTMAX", h))


def mdw_model(seed: int = 1, pattern: str = "reshape", heads: int = 3) -> bytes:
    """conv -> MDW (depthwise x heads + Max-out) -> 1x1 conv: the C*h map should never be planned."""
    m = ModelMaker(seed, f"mdw {pattern}")
    x = m.input((1, 10, 10, 4))
    a = m.conv(x, 6, k=3, act="RELU6")
    b = m.mdw_reshape_maxout(a, heads) if pattern == "reshape" else m.mdw_slice_maxout(a, heads)
    return m.build(x, m.conv(b, 4, k=1))


def mixed_ops_model(seed: int = 2) -> bytes:
    """pad, pooling, slice, concat, mul with broadcast, logistic, fc over a flattened map."""
    m = ModelMaker(seed, "mixed ops")
    x = m.input((1, 9, 9, 4))
    a = m.pad(x, [(0, 0), (1, 0), (0, 1), (0, 0)])
    b = m.pool("AVERAGE_POOL_2D", a, k=2, stride=2)
    c = m.pool("MAX_POOL_2D", a, k=3, stride=2, padding="SAME")
    d = m.concat([b, c], axis=3)
    e = m.slice(d, [0, 1, 1, 0], [1, 3, 3, 8])
    gate = m.unary("LOGISTIC", m.mean(e, keep_dims=True))
    f = m.mul(e, gate)
    g = m.depthwise(f, k=3, stride=2, padding="VALID")
    flat = m.reshape(g, (1, int(np.prod(m.shape(g)))))
    return m.build(x, m.fully_connected(flat, 6, act="RELU"))


def padded_conv_model(seed: int = 3) -> bytes:
    """Explicit PAD before VALID convs (PyTorch padding SAME cannot express): on the graph input, before a
    strided conv, a depthwise and an MDW; the padded maps should never be planned whole."""
    m = ModelMaker(seed, "padded convs")
    x = m.input((1, 11, 10, 3))
    a = m.conv(m.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)]), 8, k=3, stride=2, padding="VALID", act="RELU6")
    b = m.depthwise(m.pad(a, [(0, 0), (2, 2), (2, 2), (0, 0)]), k=5, stride=2, padding="VALID")
    c = m.mdw_slice_maxout_valid(m.pad(b, [(0, 0), (0, 2), (1, 0), (0, 0)]), 2)
    return m.build(x, m.conv(c, 4, k=1))


def pointwise_small_maps_model(seed: int = 4) -> bytes:
    """1x1 stride-1 convs on maps of 16, 4 and 1 pixels (the row-pair FC path: even and odd channel counts,
    per-channel quantization, ReLU), one on 25 pixels and one at stride 2 (both the conv kernel)."""
    m = ModelMaker(seed, "pointwise on small maps")
    x = m.input((1, 5, 5, 6))
    a = m.pool("MAX_POOL_2D", m.conv(x, 20, k=1, act="RELU"), k=2, stride=1)
    b = m.depthwise(m.conv(a, 12, k=1, act="RELU"), k=3, stride=2)
    c = m.conv(m.conv(m.conv(b, 9, k=1), 8, k=1, stride=2), 6, k=1, act="RELU")
    return m.build(x, m.reshape(c, (1, 6)))


ALL_MODELS = {
    "padded_convs": padded_conv_model,
    "conv_chain": conv_chain_model,
    "mdw_reshape": lambda: mdw_model(pattern="reshape"),
    "mdw_slices": lambda: mdw_model(pattern="slices", heads=2),
    "mixed_ops": mixed_ops_model,
    "pointwise_small_maps": pointwise_small_maps_model,
}


def exported_model(name: str, data_path, input_size: int = 32, calib_samples: int = 32, seed: int = 0,
                   **options):
    """A registry model (random init) through the real pipeline: PTQ on real images, QDQ ONNX, our converter.
    `options` go to build_model (e.g. stem_stride=1 for 32x32 inputs).

    Returns (tflite bytes, the int8 NHWC test images the model takes).
    """
    import tempfile
    from pathlib import Path

    import torch

    from flynet_tiny.convert.onnx_export import export_qdq_onnx
    from flynet_tiny.convert.to_tflite import convert_qdq_onnx
    from flynet_tiny.models.registry import build_model
    from flynet_tiny.quant import IMAGE_INPUT_QPARAMS, quantize_model
    from flynet_tiny.data.datasets import load_dataset, normalize

    dataset = load_dataset(data_path, "test", input_size=input_size)
    images = normalize(dataset.images)
    torch.manual_seed(seed)
    model = build_model(name, num_classes=10, input_size=input_size, in_channels=images.shape[1],
                        **options).eval()
    calib = images[:calib_samples]
    qmodel = quantize_model(model, [calib[i:i + 16] for i in range(0, len(calib), 16)], num_samples=len(calib),
                            progress=False)
    with tempfile.TemporaryDirectory() as folder:
        onnx_path = Path(folder) / "model_qdq.onnx"
        export_qdq_onnx(qmodel, onnx_path, calib[:1])
        model_bytes = convert_qdq_onnx(onnx_path)
    scale, zero_point = IMAGE_INPUT_QPARAMS
    nhwc = images.permute(0, 2, 3, 1).numpy()
    int8_images = np.clip(np.round(nhwc / scale) + zero_point, -128, 127).astype(np.int8)
    return model_bytes, [img[None] for img in int8_images]


def assert_plan_sound_and_within_tflm(generated, model_bytes: bytes) -> None:
    """No two live tensors share bytes; the arena fits in TFLM's; activations alone fit in TFLM's head."""
    from flynet_tiny.codegen.planner import plan_conflicts, plan_memory
    from flynet_tiny.tflite.interpreters import tflm_arena_bytes

    assert plan_conflicts(generated.plan) == []
    tflm = tflm_arena_bytes(model_bytes)
    assert generated.arena_bytes <= tflm["total"]
    # Like for like: TFLM's reference kernels take no scratch, so compare the activations alone.
    activations = plan_memory([t for t in generated.plan.tensors if t.kind == "activation"])
    assert activations.arena_bytes <= tflm["head"]


def branch_order_model(seed: int = 16) -> bytes:
    """Two branches from one map: an inverted residual (1x1 expand to 48, 3x3 depthwise, 1x1 project) and a
    spatial mean, joined by a broadcast ADD. The converter runs the expand branch first, which keeps the map
    alive beside the 48-channel maps; running the mean first lets the expand write over it."""
    m = ModelMaker(seed, "branch order")
    x = m.input((1, 14, 12, 3))
    s = m.conv(x, 8, k=3, act="RELU6")
    a = m.conv(s, 48, k=1, act="RELU6")
    b = m.depthwise(a, act="RELU6")
    c = m.conv(b, 8, k=1)
    return m.build(x, m.add(c, m.mean(s)))


def mobilenet_blocks_model(seed: int = 15) -> bytes:
    """A stride-2 stem, depthwise 3x3 (stride 1 and 2) and 5x5, 1x1 expand and project, an inverted residual:
    MobileNet's layers, each of whose outputs the planner writes over the input it reads."""
    m = ModelMaker(seed, "mobilenet blocks")
    x = m.input((1, 24, 22, 3))
    a = m.conv(x, 8, k=3, stride=2, act="RELU6")
    b = m.depthwise(a, act="RELU6")
    c = m.conv(b, 16, k=1)
    d = m.conv(c, 48, k=1, act="RELU6")
    e = m.depthwise(d, k=5, act="RELU6")
    f = m.add(m.conv(e, 16, k=1), c)
    g = m.depthwise(f, stride=2, act="RELU6")
    return m.build(x, m.conv(g, 8, k=1))
