"""Kernel parameters computed exactly as TFLite Micro's Prepare functions compute them.

TFLM derives multipliers, shifts and input radii in floating point when a model
is loaded; flynet-tiny derives them here at build time and bakes the integers
into the generated C (firmware/kernels/flynet_kernels.h structs). Each function
keeps TFLM's precision: scales are float32 in the model, widened to double where
TFLM widens them and combined in float32 where TFLM does (hard-swish, squared
difference). Dict keys are the C struct field names.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def _f32(x: float) -> float:
    """A model scale as TFLM sees it: float32, widened to double."""
    return float(np.float32(x))


def tflite_round(x: float) -> int:
    """std::round: halves away from zero (Python's round() goes to even)."""
    magnitude = abs(x)
    whole = math.floor(magnitude)
    rounded = whole + 1 if magnitude - whole >= 0.5 else whole  # magnitude - whole is exact
    return int(rounded) if x >= 0 else -int(rounded)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    q = tflite_round(fraction * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


def quantize_multiplier_greater_than_one(real_multiplier: float) -> tuple[int, int]:
    multiplier, shift = quantize_multiplier(real_multiplier)
    if shift < 0:
        raise ValueError(f"multiplier {real_multiplier} is below one")
    return multiplier, shift


def quantize_multiplier_smaller_than_one(real_multiplier: float) -> tuple[int, int]:
    multiplier, shift = quantize_multiplier(real_multiplier)
    if shift > 0:
        raise ValueError(f"multiplier {real_multiplier} is not below one")
    return multiplier, shift


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    max_input_rescaled = (
        1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits)) / (1 << input_left_shift)
    )
    return int(math.floor(max_input_rescaled))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs (f / scale in float32, as TFLite)."""

    def quantize(value: float) -> int:
        return zero_point + tflite_round(float(np.float32(value) / np.float32(scale)))

    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == "RELU6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise ValueError(f"unsupported fused activation {activation!r}")


def conv_channel_quant(input_scale: float, filter_scales, output_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) arrays: input_scale * filter_scale[c] / output_scale in double."""
    pairs = [
        quantize_multiplier(_f32(input_scale) * _f32(s) / _f32(output_scale))
        for s in np.atleast_1d(np.asarray(filter_scales, dtype=np.float32))
    ]
    return (np.array([m for m, _ in pairs], dtype=np.int32), np.array([s for _, s in pairs], dtype=np.int32))


def _two_input_params(scale1: float, zp1: int, scale2: float, zp2: int, out_zp: int, left_shift: int,
                      output_multiplier: tuple[int, int], rescale: dict) -> dict:
    return {
        "input1_offset": -int(zp1), "input2_offset": -int(zp2), "output_offset": int(out_zp),
        "left_shift": left_shift,
        "input1_multiplier": rescale["m1"], "input1_shift": rescale["s1"],
        "input2_multiplier": rescale["m2"], "input2_shift": rescale["s2"],
        "output_multiplier": output_multiplier[0], "output_shift": output_multiplier[1],
    }


def _two_input_rescale(scale1: float, scale2: float) -> dict:
    """Both inputs rescaled to twice the larger input scale (ADD, SQUARED_DIFFERENCE)."""
    twice_max = 2.0 * max(_f32(scale1), _f32(scale2))
    m1, s1 = quantize_multiplier_smaller_than_one(_f32(scale1) / twice_max)
    m2, s2 = quantize_multiplier_smaller_than_one(_f32(scale2) / twice_max)
    return {"twice_max": twice_max, "m1": m1, "s1": s1, "m2": m2, "s2": s2}


def add_params(scale1: float, zp1: int, scale2: float, zp2: int, out_scale: float, out_zp: int) -> dict:
    """ADD (int8, left shift 20); activation bounds are added by the caller."""
    left_shift = 20
    r = _two_input_rescale(scale1, scale2)
    output = quantize_multiplier_smaller_than_one(r["twice_max"] / ((1 << left_shift) * _f32(out_scale)))
    return _two_input_params(scale1, zp1, scale2, zp2, out_zp, left_shift, output, r)


def squared_difference_params(scale1: float, zp1: int, scale2: float, zp2: int, out_scale: float, out_zp: int) -> dict:
    """SQUARED_DIFFERENCE (int8, left shift 7); the denominator is a float32 product as in TFLM."""
    left_shift = 7
    r = _two_input_rescale(scale1, scale2)
    denominator = float(np.float32(1 << (2 * left_shift)) * np.float32(out_scale))
    output = quantize_multiplier(r["twice_max"] * r["twice_max"] / denominator)
    return _two_input_params(scale1, zp1, scale2, zp2, out_zp, left_shift, output, r)


def mul_params(scale1: float, zp1: int, scale2: float, zp2: int, out_scale: float, out_zp: int) -> dict:
    m, s = quantize_multiplier(_f32(scale1) * _f32(scale2) / _f32(out_scale))
    return {
        "input1_offset": -int(zp1), "input2_offset": -int(zp2), "output_offset": int(out_zp),
        "output_multiplier": m, "output_shift": s,
    }


def logistic_params(input_scale: float, input_zp: int) -> dict:
    """LOGISTIC int8: frexp of scale * 2^27 without QuantizeMultiplier's corrections (TFLM's code)."""
    input_integer_bits = 4
    real = _f32(input_scale) * float(1 << (31 - input_integer_bits))
    fraction, left_shift = math.frexp(real)
    multiplier = tflite_round(fraction * (1 << 31))
    multiplier = int(np.int64(multiplier).astype(np.int32))  # static_cast<int32_t>, wraps at 2^31
    return {
        "input_zero_point": int(input_zp),
        "input_range_radius": calculate_input_radius(input_integer_bits, left_shift, 31),
        "input_multiplier": multiplier,
        "input_left_shift": int(left_shift),
    }


def softmax_params(input_scale: float, beta: float = 1.0) -> dict:
    """SOFTMAX int8 -> int8: PreprocessSoftmaxScaling with 5 integer bits, then the diff radius."""
    scaled_diff_integer_bits = 5
    real = min(_f32(beta) * _f32(input_scale) * float(1 << (31 - scaled_diff_integer_bits)), float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    diff_min = -calculate_input_radius(scaled_diff_integer_bits, left_shift, 31)
    return {"input_multiplier": multiplier, "input_left_shift": left_shift, "diff_min": int(diff_min)}


def _downscale_int32_to_int16_multiplier(multiplier: int) -> int:
    rounding_offset = 1 << 15
    if multiplier >= (1 << 31) - 1 - rounding_offset:
        return (1 << 15) - 1
    return (multiplier + rounding_offset) >> 16


def hard_swish_params(input_scale: float, input_zp: int, output_scale: float, output_zp: int) -> dict:
    """HARD_SWISH int8: scales combined in float32 (TFLM's arithmetic), multipliers downscaled to int16."""
    hires_input_scale = np.float32(1.0 / 128.0) * np.float32(input_scale)
    reluish_scale = np.float32(3.0 / 32768.0)
    out_m32, out_exp = quantize_multiplier(float(hires_input_scale / np.float32(output_scale)))
    relu_m32, relu_exp = quantize_multiplier(float(hires_input_scale / reluish_scale))
    if out_exp > 0:
        raise ValueError("hard-swish output scale below input_scale / 128 is not supported by TFLM")
    return {
        "input_zero_point": int(input_zp), "output_zero_point": int(output_zp),
        "reluish_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(relu_m32),
        "reluish_multiplier_exponent": relu_exp,
        "output_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(out_m32),
        "output_multiplier_exponent": out_exp,
    }


def mean_params(input_scale: float, input_zp: int, output_scale: float, output_zp: int) -> dict:
    m, s = quantize_multiplier(_f32(input_scale) / _f32(output_scale))
    return {"input_zero_point": int(input_zp), "output_zero_point": int(output_zp), "multiplier": m, "shift": s}


def requantize_params(input_scale: float, input_zp: int, output_scale: float, output_zp: int) -> dict:
    """QUANTIZE between integer types (TFLM's Requantize): x -> MultiplyByQuantizedMultiplier(x - input_zp,
    QuantizeMultiplier(input_scale / output_scale)) + output_zp. Equal scales give 2^30, shift 1: exactly x."""
    m, s = quantize_multiplier(_f32(input_scale) / _f32(output_scale))
    return {"input_offset": -int(input_zp), "output_offset": int(output_zp), "multiplier": m, "shift": s}


def conv_padding(padding: str, in_size: int, filter_size: int, stride: int) -> tuple[int, int]:
    """TFLite's (output size, leading padding) for one spatial axis."""
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    elif padding == "VALID":
        out = (in_size + stride - filter_size) // stride
    else:
        raise ValueError(f"unknown padding {padding!r}")
    total = (out - 1) * stride + filter_size - in_size
    return out, max(total, 0) // 2


# Attention output quantization TFLM requires of LOGISTIC and SOFTMAX int8 outputs.
ATTENTION_SCALE, ATTENTION_ZERO_POINT = 1.0 / 256, -128


def eca_params(x_q: tuple[float, int], stat_q: tuple[float, int], sqdiff_q: tuple[float, int], kernel_scale: float,
               kernel_size: int, conv_bias: int, score_q: tuple[float, int], y_q: tuple[float, int],
               use_softmax: bool = False, heads: int = 1, beta: float = 1.0) -> dict:
    """fn_eca_params (without the kernel pointer) for the chain in flynet_kernels.h.

    x_q: block input; stat_q: mean and variance (one quantization, they are concatenated);
    sqdiff_q: the squared-difference map; score_q: the 1-D conv output; y_q: block output.
    """
    sqdiff = squared_difference_params(*x_q, *stat_q, *sqdiff_q)
    conv_m, conv_s = quantize_multiplier(_f32(stat_q[0]) * _f32(kernel_scale) / _f32(score_q[0]))
    mul = mul_params(*x_q, ATTENTION_SCALE, ATTENTION_ZERO_POINT, *y_q)
    mul.update(act_min=INT8_MIN, act_max=INT8_MAX)
    return {
        "mean": mean_params(*x_q, *stat_q),
        **{f"sqdiff_{k}": v for k, v in sqdiff.items()},
        "var_mean": mean_params(*sqdiff_q, *stat_q),
        "kernel_size": int(kernel_size),
        "conv_bias": int(conv_bias),
        "conv_input_offset": -int(stat_q[1]), "conv_output_offset": int(score_q[1]),
        "conv_multiplier": conv_m, "conv_shift": conv_s,
        "use_softmax": int(use_softmax), "heads": int(heads),
        "logistic": logistic_params(*score_q),
        "softmax": softmax_params(score_q[0], beta),
        "mul": mul,
    }
