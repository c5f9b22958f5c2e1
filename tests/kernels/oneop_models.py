"""One-op (or few-op) int8 .tflite models for comparing the host kernels with TFLite Micro.

Each builder draws random quantization and data from `rng`, builds the model
with flynet_tiny.tflite.TFLiteBuilder, and returns (model_bytes, inputs, info):
`info` holds what the host kernel needs (weights, scales, zero points).
"""

from __future__ import annotations

import numpy as np

from flynet_tiny.tflite import TFLiteBuilder
from flynet_tiny.tflite.interpreters import run_tflm


def random_int8(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)


def random_scale(rng: np.random.Generator, low: float = 0.005, high: float = 0.1) -> float:
    return float(np.float32(np.exp(rng.uniform(np.log(low), np.log(high)))))


def random_zero_point(rng: np.random.Generator) -> int:
    return int(rng.integers(-128, 128))


def tflm(model: bytes, inputs) -> list[np.ndarray]:
    return run_tflm(model, inputs)


def conv_model(rng, kind: str, in_shape, kernel_hw, out_channels: int, stride, padding,
               heads: int = 1, activation: str = "NONE", with_bias: bool = True):
    """CONV_2D (kind 'conv'), DEPTHWISE_CONV_2D ('depthwise') or depthwise + RESHAPE + REDUCE_MAX ('mdw').
    `padding` "SAME" / "VALID", or explicit (top, bottom, left, right): a PAD, then the VALID op."""
    n, h, w, c = in_shape
    x_scale, x_zp = random_scale(rng), random_zero_point(rng)
    y_scale, y_zp = random_scale(rng, 0.02, 0.3), random_zero_point(rng)
    if kind == "conv":
        w_shape = (out_channels, kernel_hw[0], kernel_hw[1], c)
        channels = out_channels
    else:
        channels = c * heads
        w_shape = (1, kernel_hw[0], kernel_hw[1], channels)
    weights = rng.integers(-127, 128, size=w_shape).astype(np.int8)
    w_scales = np.array([random_scale(rng, 0.002, 0.05) for _ in range(channels)], dtype=np.float32)
    bias = rng.integers(-3000, 3000, size=channels).astype(np.int32) if with_bias else None
    b = TFLiteBuilder("one op")
    xi = b.add_tensor("x", in_shape, "int8", scale=x_scale, zero_point=x_zp)
    conv_in, op_padding = xi, padding
    if not isinstance(padding, str):
        top, bottom, left, right = padding
        h, w = h + top + bottom, w + left + right
        conv_in = b.add_tensor("padded", (n, h, w, c), "int8", scale=x_scale, zero_point=x_zp)
        pads = b.add_constant("paddings", np.array([[0, 0], [top, bottom], [left, right], [0, 0]], dtype=np.int32))
        b.add_operator("PAD", [xi, pads], [conv_in])
        op_padding = "VALID"
    wi = b.add_tensor("w", w_shape, "int8", data=weights, scale=w_scales, zero_point=[0] * channels,
                      quantized_dimension=0 if kind == "conv" else 3)
    inputs = [conv_in, wi]
    if with_bias:
        bias_scales = (np.float32(x_scale) * w_scales).astype(np.float32)
        inputs.append(b.add_tensor("b", (channels,), "int32", data=bias, scale=bias_scales, zero_point=[0] * channels))
    else:
        inputs.append(-1)
    from flynet_tiny.int8.kernel_params import conv_padding
    oh, _ = conv_padding(op_padding, h, kernel_hw[0], stride[0])
    ow, _ = conv_padding(op_padding, w, kernel_hw[1], stride[1])
    options = {"padding": op_padding, "stride_h": stride[0], "stride_w": stride[1],
               "fused_activation_function": activation}
    if kind == "conv":
        yi = b.add_tensor("y", (n, oh, ow, channels), "int8", scale=y_scale, zero_point=y_zp)
        b.add_operator("CONV_2D", inputs, [yi], options)
        out = yi
    else:
        di = b.add_tensor("dw", (n, oh, ow, channels), "int8", scale=y_scale, zero_point=y_zp)
        b.add_operator("DEPTHWISE_CONV_2D", inputs, [di], {**options, "depth_multiplier": heads})
        out = di
        if kind == "mdw":
            shape5 = b.add_constant("shape5", np.array([n, oh, ow, c, heads], dtype=np.int32))
            ri = b.add_tensor("heads", (n, oh, ow, c, heads), "int8", scale=y_scale, zero_point=y_zp)
            b.add_operator("RESHAPE", [di, shape5], [ri], {"new_shape": [n, oh, ow, c, heads]})
            axis = b.add_constant("axis", np.array([4], dtype=np.int32))
            out = b.add_tensor("y", (n, oh, ow, c), "int8", scale=y_scale, zero_point=y_zp)
            b.add_operator("REDUCE_MAX", [ri, axis], [out], {"keep_dims": False})
    b.set_io([xi], [out])
    x = random_int8(rng, in_shape)
    info = dict(weights=weights, w_scales=w_scales, bias=bias, x_scale=x_scale, x_zp=x_zp, y_scale=y_scale,
                y_zp=y_zp, stride=tuple(stride), padding=padding, heads=heads, activation=activation)
    return b.build(), [x], info


def quant_tensor(b: TFLiteBuilder, name: str, shape, scale: float, zp: int) -> int:
    return b.add_tensor(name, shape, "int8", scale=scale, zero_point=zp)


def unary_model(op: str, in_shape, x_q, y_q, options=None, extra_inputs=(), out_shape=None):
    """A model with one int8 input and one int8 output; extra_inputs are (name, int32 array) constants."""
    b = TFLiteBuilder("one op")
    xi = quant_tensor(b, "x", in_shape, *x_q)
    inputs = [xi] + [b.add_constant(name, np.asarray(data, dtype=np.int32)) for name, data in extra_inputs]
    yi = quant_tensor(b, "y", out_shape or in_shape, *y_q)
    b.add_operator(op, inputs, [yi], options)
    b.set_io([xi], [yi])
    return b.build()


def binary_model(op: str, a_shape, b_shape, a_q, b_q, y_q, options=None):
    b = TFLiteBuilder("one op")
    ai = quant_tensor(b, "a", a_shape, *a_q)
    bi = quant_tensor(b, "b", b_shape, *b_q)
    out_shape = np.broadcast_shapes(tuple(a_shape), tuple(b_shape))
    yi = quant_tensor(b, "y", out_shape, *y_q)
    b.add_operator(op, [ai, bi], [yi], options)
    b.set_io([ai, bi], [yi])
    return b.build()


def quantize_model(in_dtype: str, in_q, out_dtype: str, out_q, size: int) -> bytes:
    """One QUANTIZE (or, for an int8 -> float32 pair, DEQUANTIZE) of a [1, size] tensor."""
    b = TFLiteBuilder("one edge op")
    x = b.add_tensor("x", [1, size], in_dtype, scale=in_q[0] if in_q else None, zero_point=in_q[1] if in_q else None)
    y = b.add_tensor("y", [1, size], out_dtype, scale=out_q[0] if out_q else None,
                     zero_point=out_q[1] if out_q else None)
    b.add_operator("DEQUANTIZE" if out_dtype == "float32" else "QUANTIZE", [x], [y])
    b.set_io([x], [y])
    return b.build()
