"""Few-op int8 models for the elementwise, activation, reduction, data-movement and resize layers of the code
generator (one graph input, one output), built with TFLiteBuilder through codegen_models.ModelMaker."""

from __future__ import annotations

import numpy as np

from codegen_models import ModelMaker


class OpsMaker(ModelMaker):
    def constant(self, shape, like: int, name: str = "const") -> int:
        """An int8 constant operand quantized like tensor `like` (what the converter writes for clip bounds)."""
        data = self.rng.integers(-128, 128, size=shape).astype(np.int8)
        index = self.b.add_tensor(self._name(name), shape, "int8", data=data, scale=self.scale(like),
                                  zero_point=self.meta[like][2])
        self.meta[index] = (tuple(shape), self.scale(like), self.meta[like][2])
        return index

    def activation(self, op: str, x: int, scale_ratio: float = 1.0, options=None) -> int:
        """A one-input activation; its output scaled `scale_ratio` times the input's (1: the input's own)."""
        if scale_ratio == 1.0:
            y = self.same_scale(x, self.shape(x), op.lower())
        else:
            y = self._out(self.shape(x), self.scale(x) * scale_ratio, self._name(op.lower()))
        self.b.add_operator(op, [x], [y], options)
        return y

    def tanh(self, x: int) -> int:
        y = self.tensor(self.shape(x), 1.0 / 128, 0, name=self._name("tanh"))
        self.b.add_operator("TANH", [x], [y])
        return y

    def prelu(self, x: int, alpha_shape) -> int:
        alpha = self.rng.integers(-128, 128, size=alpha_shape).astype(np.int8)
        at = self.b.add_tensor(self._name("alpha"), alpha_shape, "int8", data=alpha, scale=0.004,
                               zero_point=int(self.rng.integers(-10, 10)))
        y = self._out(self.shape(x), self.scale(x) * 0.8, self._name("prelu"))
        self.b.add_operator("PRELU", [x, at], [y])
        return y

    def binary(self, op: str, a: int, b: int, act: str = "NONE") -> int:
        shape = np.broadcast_shapes(self.shape(a), self.shape(b))
        if op in ("MINIMUM", "MAXIMUM"):
            y = self.same_scale(a, shape, op.lower())
        elif op == "SQUARED_DIFFERENCE":
            y = self._out(shape, self.scale(a) ** 2 * 300, self._name("sqdiff"))
        elif op == "MUL":
            y = self._out(shape, self.scale(a) * self.scale(b) * 60, self._name("mul"))
        else:
            y = self._out(shape, max(self.scale(a), self.scale(b)) * 1.5, self._name(op.lower()))
        options = {"fused_activation_function": act} if op in ("SUB", "MUL", "ADD") else None
        self.b.add_operator(op, [a, b], [y], options)
        return y

    def reduce(self, op: str, x: int, axes, keep_dims: bool = True, same_quantization: bool = False) -> int:
        shape = self.shape(x)
        resolved = {a % len(shape) for a in axes}
        out_shape = tuple(1 if i in resolved else s for i, s in enumerate(shape)) if keep_dims else \
            tuple(s for i, s in enumerate(shape) if i not in resolved)
        y = self.same_scale(x, out_shape, op.lower()) if op == "REDUCE_MAX" or same_quantization else \
            self._out(out_shape, self.scale(x) * 0.6, self._name("mean"))
        at = self.b.add_constant(self._name("axes"), np.array(axes, dtype=np.int32))
        self.b.add_operator(op, [x, at], [y], {"keep_dims": keep_dims})
        return y

    def transpose(self, x: int, perm) -> int:
        y = self.same_scale(x, tuple(self.shape(x)[p] for p in perm), "transpose")
        self.b.add_operator("TRANSPOSE", [x, self.b.add_constant(self._name("perm"), np.array(perm, dtype=np.int32))],
                            [y])
        return y

    def split(self, x: int, axis: int, sizes) -> list[int]:
        """SPLIT for equal sizes, SPLIT_V otherwise."""
        outs = []
        for size in sizes:
            shape = list(self.shape(x))
            shape[axis] = size
            outs.append(self.same_scale(x, tuple(shape), "part"))
        at = self.b.add_constant(self._name("axis"), np.array(axis, dtype=np.int32))
        if len(set(sizes)) == 1:
            self.b.add_operator("SPLIT", [at, x], outs, {"num_splits": len(sizes)})
        else:
            st = self.b.add_constant(self._name("sizes"), np.array(sizes, dtype=np.int32))
            self.b.add_operator("SPLIT_V", [x, st, at], outs, {"num_splits": len(sizes)})
        return outs

    def padv2(self, x: int, before_after, value: int) -> int:
        shape = tuple(s + a + b for s, (a, b) in zip(self.shape(x), before_after))
        y = self.same_scale(x, shape, "padv2")
        p = self.b.add_constant(self._name("paddings"), np.array(before_after, dtype=np.int32))
        v = self.b.add_tensor(self._name("value"), (), "int8", data=np.array(value, dtype=np.int8),
                              scale=self.scale(x), zero_point=self.meta[x][2])
        self.b.add_operator("PADV2", [x, p, v], [y])
        return y

    def strided_slice(self, x: int, begin, end, strides, out_shape, begin_mask=0, end_mask=0, shrink=0,
                      ellipsis_mask=0) -> int:
        y = self.same_scale(x, tuple(out_shape), "strided_slice")
        operands = [self.b.add_constant(self._name(n), np.array(v, dtype=np.int32))
                    for n, v in (("begin", begin), ("end", end), ("strides", strides))]
        self.b.add_operator("STRIDED_SLICE", [x, *operands], [y],
                            {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink,
                             "ellipsis_mask": ellipsis_mask})
        return y

    def resize(self, op: str, x: int, size, align_corners: bool = False, half_pixel_centers: bool = False) -> int:
        n, _, _, c = self.shape(x)
        y = self.same_scale(x, (n, *size, c), op.lower())
        st = self.b.add_constant(self._name("size"), np.array(size, dtype=np.int32))
        self.b.add_operator(op, [x, st], [y], {"align_corners": align_corners, "half_pixel_centers": half_pixel_centers})
        return y


def activations_model(seed: int = 20) -> bytes:
    """Every table activation, with its output quantization equal to the input's and apart from it; the
    graph input feeds the first, so the tables see every value. A RELU that changes nothing (zero point
    -128, one quantization) is a view; PRELU with alpha per channel and per element."""
    m = OpsMaker(seed, "activations")
    x = m.input((1, 6, 7, 5))
    a = m.activation("LEAKY_RELU", x, 0.7, {"alpha": 0.1})
    b = m.tanh(m.activation("RELU", a, 1.3))
    c = m.activation("RELU6", m.activation("LEAKY_RELU", b, 1.0, {"alpha": 0.3}), 0.5)
    d = m.activation("RELU6", c)
    # MAXIMUM copies raw values whatever the quantization: here into a tensor whose zero point is -128.
    e = m.tensor(m.shape(d), m.scale(d), -128, name="zero_point_low")
    m.b.add_operator("MAXIMUM", [d, m.constant((), d)], [e])
    f = m.activation("HARD_SWISH", m.activation("RELU", e), 0.9)
    return m.build(x, m.prelu(m.prelu(f, (1, 1, 5)), (6, 7, 5)))


def broadcast_model(seed: int = 21) -> bytes:
    """SUB, MUL, SQUARED_DIFFERENCE, MINIMUM, MAXIMUM with tensor and constant operands broadcast along
    every axis (the tensors come from reductions of the input)."""
    m = OpsMaker(seed, "broadcasts")
    x = m.input((2, 4, 6, 5))
    a = m.binary("SUB", x, m.reduce("MEAN", x, [1, 2]))                 # [2,1,1,5]: over H and W
    b = m.binary("MINIMUM", a, m.reduce("REDUCE_MAX", a, [-1]))         # [2,4,6,1]: over C
    c = m.binary("MAXIMUM", b, m.constant((5,), b))                     # a per-channel constant
    d = m.binary("SQUARED_DIFFERENCE", c, m.reduce("MEAN", c, [2]))     # [2,4,1,5]: over W
    e = m.binary("SUB", m.constant((1, 6, 1), d), d, act="RELU")        # constant first, over N, H, C
    f = m.binary("MINIMUM", e, m.constant((), e))                       # a scalar
    g = m.binary("MUL", f, m.constant((4, 1, 5), f))
    return m.build(x, m.binary("MAXIMUM", g, m.reduce("REDUCE_MAX", g, [0])))  # over N


def reductions_model(seed: int = 22) -> bytes:
    """MEAN and REDUCE_MAX over single axes and pairs, keep_dims or not: the CBAM channel statistics, then
    reductions of those over H, over N and W, over N."""
    m = OpsMaker(seed, "reductions")
    x = m.input((2, 9, 8, 16))
    mean_c = m.reduce("MEAN", x, [-1], same_quantization=True)
    stats = m.concat([mean_c, m.reduce("REDUCE_MAX", x, [3])], 3)                     # [2,9,8,2]
    h = m.reduce("MEAN", stats, [1], keep_dims=False)                                 # [2,8,2]
    w = m.reduce("REDUCE_MAX", h, [0, 1], keep_dims=True)                             # [1,1,2]
    n = m.reduce("MEAN", m.reduce("MEAN", x, [1, 2], keep_dims=False), [0])          # [1,16]
    requantized = m.tensor((1, 2), m.scale(n), m.meta[n][2], name="stats_raw")  # MAXIMUM copies raw values
    m.b.add_operator("MAXIMUM", [m.reshape(w, (1, 2)), m.constant((), w)], [requantized])
    return m.build(x, m.concat([requantized, n], 1))


def data_movement_model(seed: int = 23) -> bytes:
    """TRANSPOSE (a real one, and one that only moves an axis of size 1: a view), SPLIT and SPLIT_V on
    several axes, CONCATENATION, PADV2, STRIDED_SLICE with strides of either sign and a shrunk axis."""
    m = OpsMaker(seed, "data movement")
    x = m.input((1, 6, 8, 4))
    t = m.transpose(x, (0, 2, 1, 3))                                    # [1,8,6,4]
    a, b = m.split(t, 3, (2, 2))
    c, d = m.split(a, 1, (3, 5))
    e = m.concat([d, c], 1)                                              # [1,8,6,2], halves swapped
    f = m.padv2(m.concat([e, b], 3), [(0, 0), (1, 2), (0, 1), (0, 0)], -25)  # [1,11,7,4]
    g = m.strided_slice(f, (0, 10, 0, 3), (1, 0, 7, 0), (1, -3, 2, -1), (1, 4, 4, 3))
    h = m.strided_slice(g, (0, 1, 0, 0), (1, 2, 4, 3), (1, 1, 1, 1), (1, 4, 3), shrink=0b0010)
    v = m.transpose(m.reshape(h, (1, 4, 3, 1)), (0, 3, 1, 2))          # only the size-1 axis moves
    return m.build(x, m.transpose(m.reshape(v, (1, 12)), (1, 0)))


def resize_model(seed: int = 24) -> bytes:
    """Both resize ops up and down, in every sampling mode the converter writes."""
    m = OpsMaker(seed, "resize")
    x = m.input((1, 5, 6, 3))
    a = m.resize("RESIZE_NEAREST_NEIGHBOR", x, (10, 12), half_pixel_centers=True)
    b = m.resize("RESIZE_BILINEAR", a, (19, 7), align_corners=True)
    c = m.resize("RESIZE_BILINEAR", b, (8, 9), half_pixel_centers=True)
    d = m.resize("RESIZE_NEAREST_NEIGHBOR", c, (5, 13), align_corners=True)
    return m.build(x, m.resize("RESIZE_BILINEAR", d, (16, 16)))


OPS_MODELS = {
    "activations": activations_model,
    "broadcasts": broadcast_model,
    "reductions": reductions_model,
    "data_movement": data_movement_model,
    "resize": resize_model,
}
