"""Few-op int8 models for the conv, depthwise, pooling and transpose-conv parameter families (issue 13):
non-square and H x 1 / 1 x N filters, strides 3 and 4, dilation, depth multipliers, global and windowed
pools, Conv2DTranspose. Built with TFLiteBuilder through ModelMaker's conventions (scales from the fan-in)."""

from __future__ import annotations

import math

import numpy as np

from codegen_models import ModelMaker
from flynet_tiny.int8.kernel_params import conv_padding


class GeometryMaker(ModelMaker):
    """ModelMaker with any filter (kh, kw), stride (sh, sw) and dilation (dh, dw) per layer."""

    def _sizes(self, x, k, stride, dilation, padding):
        n, h, w, c = self.shape(x)
        oh, _ = conv_padding(padding, h, k[0], stride[0], dilation[0])
        ow, _ = conv_padding(padding, w, k[1], stride[1], dilation[1])
        return n, oh, ow, c

    def conv_any(self, x, out_c, k=(3, 3), stride=(1, 1), dilation=(1, 1), padding="SAME", act="NONE"):
        n, oh, ow, c = self._sizes(x, k, stride, dilation, padding)
        name = self._name("conv")
        weights = self.rng.integers(-127, 128, size=(out_c, k[0], k[1], c), dtype=np.int8)
        w_scales = self.rng.uniform(0.002, 0.01, size=out_c).astype(np.float32)
        bias = self.rng.integers(-2000, 2000, size=out_c).astype(np.int32)
        wt = self.b.add_tensor(f"{name}/w", weights.shape, "int8", data=weights, scale=w_scales, zero_point=0)
        bt = self.b.add_tensor(f"{name}/b", [out_c], "int32", data=bias, scale=self.scale(x) * w_scales, zero_point=0)
        y = self._out((n, oh, ow, out_c), self.scale(x) * float(w_scales.mean()) * math.sqrt(k[0] * k[1] * c) * 40,
                      name)
        self.b.add_operator("CONV_2D", [x, wt, bt], [y], {
            "padding": padding, "stride_h": stride[0], "stride_w": stride[1], "dilation_h_factor": dilation[0],
            "dilation_w_factor": dilation[1], "fused_activation_function": act})
        return y

    def depthwise_any(self, x, k=(3, 3), stride=(1, 1), dilation=(1, 1), multiplier=1, padding="SAME", act="NONE"):
        n, oh, ow, c = self._sizes(x, k, stride, dilation, padding)
        name = self._name("dw")
        oc = c * multiplier
        weights = self.rng.integers(-127, 128, size=(1, k[0], k[1], oc), dtype=np.int8)
        w_scales = self.rng.uniform(0.005, 0.02, size=oc).astype(np.float32)
        bias = self.rng.integers(-2000, 2000, size=oc).astype(np.int32)
        wt = self.b.add_tensor(f"{name}/w", weights.shape, "int8", data=weights, scale=w_scales, zero_point=0,
                               quantized_dimension=3)
        bt = self.b.add_tensor(f"{name}/b", [oc], "int32", data=bias, scale=self.scale(x) * w_scales, zero_point=0)
        y = self._out((n, oh, ow, oc), self.scale(x) * float(w_scales.mean()) * math.sqrt(k[0] * k[1]) * 40, name)
        self.b.add_operator("DEPTHWISE_CONV_2D", [x, wt, bt], [y], {
            "padding": padding, "stride_h": stride[0], "stride_w": stride[1], "dilation_h_factor": dilation[0],
            "dilation_w_factor": dilation[1], "depth_multiplier": multiplier, "fused_activation_function": act})
        return y

    def pool_any(self, op, x, k=(2, 2), stride=(2, 2), padding="VALID", act="NONE"):
        n, oh, ow, c = self._sizes(x, k, stride, (1, 1), padding)
        y = self.same_scale(x, (n, oh, ow, c), op.lower())
        self.b.add_operator(op, [x], [y], {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                                           "filter_height": k[0], "filter_width": k[1],
                                           "fused_activation_function": act})
        return y

    def transpose_conv(self, x, out_c, k=(3, 3), stride=(2, 2), padding="SAME", out_hw=None, act="NONE"):
        n, h, w, c = self.shape(x)
        if out_hw is None:
            out_hw = tuple(size * s if padding == "SAME" else (size - 1) * s + kk
                           for size, s, kk in zip((h, w), stride, k))
        name = self._name("tconv")
        weights = self.rng.integers(-127, 128, size=(out_c, k[0], k[1], c), dtype=np.int8)
        w_scales = self.rng.uniform(0.002, 0.01, size=out_c).astype(np.float32)
        bias = self.rng.integers(-2000, 2000, size=out_c).astype(np.int32)
        out_shape = (n, *out_hw, out_c)
        st = self.b.add_constant(self._name("output_shape"), np.array(out_shape, dtype=np.int32))
        wt = self.b.add_tensor(f"{name}/w", weights.shape, "int8", data=weights, scale=w_scales, zero_point=0)
        bt = self.b.add_tensor(f"{name}/b", [out_c], "int32", data=bias, scale=self.scale(x) * w_scales, zero_point=0)
        taps = max(1, (k[0] * k[1]) // (stride[0] * stride[1]))
        y = self._out(out_shape, self.scale(x) * float(w_scales.mean()) * math.sqrt(taps * c) * 40, name)
        self.b.add_operator("TRANSPOSE_CONV", [st, wt, x, bt], [y], {
            "padding": padding, "stride_h": stride[0], "stride_w": stride[1], "fused_activation_function": act})
        return y


def conv_geometry_model() -> bytes:
    """Convs with non-square, H x 1 and 1 x N filters, strides 3 / 4 / unequal, dilation 2 and 2x3."""
    m = GeometryMaker(31)
    x = m.input((1, 29, 23, 3))
    y = m.conv_any(x, 8, k=(3, 3), dilation=(2, 2), act="RELU")
    y = m.conv_any(y, 12, k=(5, 5), stride=(4, 4))
    y = m.conv_any(y, 6, k=(3, 2), stride=(3, 1), dilation=(1, 3), padding="VALID", act="RELU6")
    y = m.conv_any(y, 7, k=(1, 4), stride=(1, 2))
    y = m.conv_any(y, 5, k=(2, 1), padding="VALID")
    return m.build(x, y)


def depthwise_geometry_model() -> bytes:
    """micro_speech's 10x8 stride-2 depthwise on one channel with 8 heads, then H x 1 / non-square depthwise
    layers at strides 1..3 with dilation, and 20 heads (more than the plane paths take)."""
    m = GeometryMaker(32)
    x = m.input((1, 49, 40, 1))
    y = m.depthwise_any(x, k=(10, 8), stride=(2, 2), multiplier=8, act="RELU")
    y = m.depthwise_any(y, k=(9, 1), stride=(2, 2), act="RELU")
    y = m.depthwise_any(y, k=(5, 1), stride=(1, 1), dilation=(2, 1))
    y = m.depthwise_any(y, k=(3, 3), stride=(3, 3), dilation=(2, 3), act="RELU6")
    y = m.depthwise_any(y, k=(1, 5), stride=(1, 2), padding="SAME")
    y = m.conv_any(y, 1, k=(1, 1))
    y = m.depthwise_any(y, k=(3, 3), multiplier=20)
    return m.build(x, y)


def pooling_geometry_model() -> bytes:
    """Windowed pools at strides 3 / 4 with SAME overhangs, fused activations, and global average pools."""
    m = GeometryMaker(33)
    x = m.input((1, 30, 30, 16))
    y = m.pool_any("MAX_POOL_2D", x, k=(4, 4), stride=(3, 3), padding="SAME", act="RELU")
    y = m.pool_any("AVERAGE_POOL_2D", y, k=(3, 3), stride=(4, 4), padding="SAME")
    y = m.conv_any(y, 64, k=(1, 1))
    y = m.pool_any("AVERAGE_POOL_2D", y, k=(3, 3), stride=(3, 3), padding="VALID", act="RELU6")  # 3x3 global
    return m.build(x, y)


def global_pool_model(map_hw, window_hw, channels) -> bytes:
    """conv 1x1 -> AVERAGE_POOL_2D with filter = stride = window (ResNet-8's 8x8, VWW's 3x3, DS-CNN's 24x5 on
    a 25x5 map) -> FC, as the MLPerf Tiny models end."""
    m = GeometryMaker(34 + channels)
    x = m.input((1, *map_hw, 8))
    y = m.conv_any(x, channels, k=(1, 1), act="RELU")
    y = m.pool_any("AVERAGE_POOL_2D", y, k=window_hw, stride=window_hw, padding="VALID")
    y = m.reshape(y, (1, channels))
    return m.build(x, m.fully_connected(y, 10))


def transpose_conv_head_model() -> bytes:
    """A segmentation-style decoder: strided conv down, Conv2DTranspose up (SAME, VALID, an output_padding
    size), with fused activations."""
    m = GeometryMaker(35)
    x = m.input((1, 16, 16, 3))
    y = m.conv_any(x, 16, k=(3, 3), stride=(2, 2), act="RELU")
    y = m.transpose_conv(y, 8, k=(3, 3), stride=(2, 2), padding="SAME", act="RELU")
    y = m.conv_any(y, 8, k=(3, 3), stride=(2, 2))
    y = m.transpose_conv(y, 5, k=(2, 3), stride=(2, 3), padding="VALID")
    y = m.transpose_conv(y, 4, k=(3, 3), stride=(1, 1), padding="SAME", out_hw=(16, 24), act="RELU6")
    return m.build(x, y)


GEOMETRY_MODELS = {
    "conv_geometry": conv_geometry_model,
    "depthwise_geometry": depthwise_geometry_model,
    "pooling_geometry": pooling_geometry_model,
    "global_pool_8x8": lambda: global_pool_model((8, 8), (8, 8), 64),
    "global_pool_3x3": lambda: global_pool_model((3, 3), (3, 3), 256),
    "pool_24x5_on_25x5": lambda: global_pool_model((25, 5), (24, 5), 64),
    "transpose_conv_head": transpose_conv_head_model,
}
