"""TFLite's integer arithmetic on int64 tensors holding int32 values (vectorized, exact).

The same functions as firmware/kernels/support/fn_requant.h (the C kernels are bit-exact with TFLite
Micro), written with torch ops so that a whole feature map is requantized at once. Every value
is an int64 tensor whose contents stay in int32 range; products of two int32 values fit in int64.
"""

from __future__ import annotations

import torch

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _long(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.int64)


# Whole feature maps go through these functions: each makes one new tensor and works on it in place,
# since allocating a fresh map per step (and the page faults of touching it) cost more than the arithmetic.

def wrap32(x: torch.Tensor) -> torch.Tensor:
    """int32 two's-complement wrap-around (TFLite's int32 adds and shifts)."""
    y = _long(x) + (1 << 31)
    y &= 0xFFFFFFFF
    y -= 1 << 31
    return y


def trunc_div(x: torch.Tensor, d: int) -> torch.Tensor:
    """C integer division (toward zero)."""
    return torch.div(x, d, rounding_mode="trunc")


def srdhm(a: torch.Tensor, b) -> torch.Tensor:
    """SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties up; INT32_MIN^2 saturates."""
    a, b = _long(a), _long(b)
    result = a * b
    result += 1 << 30
    result >>= 31
    if not bool((b == INT32_MIN).any()):  # the common case: a constant multiplier, no saturation
        return result
    return torch.where((a == INT32_MIN) & (b == INT32_MIN), _long(INT32_MAX), result)


def rdbpot(x: torch.Tensor, exponent) -> torch.Tensor:
    """RoundingDivideByPOT: x / 2^exponent, ties away from zero.

    TFLM adds one where remainder > (mask >> 1) + (x < 0), mask = 2^e - 1: for x >= 0 that is
    floor((x + 2^(e-1)) / 2^e), for x < 0 floor((x + 2^(e-1) - 1) / 2^e), and x itself for e = 0
    (no carry past int64: x is an int32 value)."""
    x, exponent = _long(x), _long(exponent)
    shape = torch.broadcast_shapes(x.shape, exponent.shape)
    half = (torch.ones_like(exponent) << exponent) >> 1  # 2^(e-1), and 0 for e = 0
    result = x.expand(shape) >> 63  # -1 where x < 0, else 0
    if not bool((exponent > 0).all()):
        result &= -(exponent > 0).long()  # no rounding term where e = 0
    result += x
    result += half
    result >>= exponent
    return result


def multiply_by_quantized_multiplier(x: torch.Tensor, multiplier, shift) -> torch.Tensor:
    """MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), rounded twice as TFLite does.

    `multiplier` and `shift` may be tensors broadcasting against `x` (per-channel requantization)."""
    shift = _long(shift)
    x = _long(x)
    if bool((shift > 0).any()):
        x = wrap32(x << shift.clamp(min=0))
    return rdbpot(srdhm(x, multiplier), (-shift).clamp(min=0))


def mul_pot(x: torch.Tensor, exponent: int) -> torch.Tensor:
    """gemmlowp SaturatingRoundingMultiplyByPOT (exponent > 0 saturates, < 0 rounds)."""
    if exponent < 0:
        return rdbpot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    shifted = wrap32(x << exponent)
    return torch.where(x > threshold, _long(INT32_MAX), torch.where(x < -threshold, _long(INT32_MIN), shifted))


def rescale(x: torch.Tensor, src_bits: int, dst_bits: int) -> torch.Tensor:
    return mul_pot(x, src_bits - dst_bits)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: torch.Tensor) -> torch.Tensor:
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = mul_pot(x4, -2)
    poly = mul_pot(wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2), -1)
    return wrap32(constant_term + srdhm(_long(constant_term), wrap32(x + poly)))


_EXP_BARREL = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def exp_on_negative_values(a: torch.Tensor, integer_bits: int) -> torch.Tensor:
    """exp(a) for a <= 0 with `integer_bits` integer bits; result with 0 integer bits."""
    a = _long(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = wrap32((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent in range(-2, 5):
        if integer_bits > exponent:
            bit = (remainder >> (fractional_bits + exponent)) & 1
            result = torch.where(bit == 1, srdhm(result, _EXP_BARREL[exponent + 2]), result)
    if integer_bits > 5:
        result = torch.where(a < -(1 << (36 - integer_bits)), torch.zeros_like(result), result)
    return torch.where(a == 0, _long(INT32_MAX), result)


def one_over_one_plus_x_for_x_in_0_1(a: torch.Tensor) -> torch.Tensor:
    """1 / (1 + a) for a in [0, 1), 0 integer bits in and out (three Newton-Raphson steps)."""
    total = _long(a) + INT32_MAX
    half_denominator = trunc_div(total + torch.where(total >= 0, 1, -1), 2)
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus = wrap32((1 << 29) - srdhm(half_denominator, x))
        x = wrap32(x + rescale(srdhm(x, one_minus), 4, 2))
    return rescale(x, 1, 0)


def logistic_q4(a: torch.Tensor) -> torch.Tensor:
    """logistic(a) for a with 4 integer bits; result with 0 integer bits."""
    a = _long(a)
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-a.abs(), 4))
    result = torch.where(a > 0, positive, wrap32(INT32_MAX - positive))
    return torch.where(a == 0, _long(1 << 30), result)
