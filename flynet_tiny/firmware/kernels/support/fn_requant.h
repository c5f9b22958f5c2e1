/* Integer requantization and fixed-point math shared by every kernel.
 *
 * The functions reproduce TFLite's integer arithmetic exactly, including its
 * edge cases: saturation of INT32_MIN * INT32_MIN, rounding of negative ties
 * away from zero, and wrapping where TFLite's int32 arithmetic wraps. Signed
 * wrap-around is done through uint32_t so the host build stays free of
 * undefined behaviour under -fsanitize=undefined.
 */
#ifndef FN_REQUANT_H
#define FN_REQUANT_H

#include <stdint.h>

#define FN_INT8_MIN (-128)
#define FN_INT8_MAX 127

static inline int32_t fn_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t fn_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline int32_t fn_wrap_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }

static inline int32_t fn_min32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t fn_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t fn_clamp32(int32_t x, int32_t lo, int32_t hi) { return fn_min32(fn_max32(x, lo), hi); }

/* round(a * b / 2^31), ties up; the one overflow case saturates. Equal to
 * gemmlowp's nudge-then-truncate form: both are floor((a*b + 2^30) / 2^31). */
static inline int32_t fn_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    return (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). */
static inline int32_t fn_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier (double rounding). The common case (no
 * left shift, a multiplier that cannot hit the saturating INT32_MIN * INT32_MIN)
 * takes a shorter route: round-half-away-from-zero division by 2^e is
 * (x + 2^(e-1) - (x < 0)) >> e, used wherever that sum cannot overflow. */
static inline int32_t fn_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    if (shift <= 0 && multiplier != INT32_MIN) {
        const int32_t high = (int32_t)(((int64_t)x * (int64_t)multiplier + ((int64_t)1 << 30)) >> 31);
        const int exponent = -shift;
        if (exponent == 0) {
            return high;
        }
        const int32_t half = (int32_t)((uint32_t)1 << (exponent - 1));
        if (high <= INT32_MAX - half) {
            return (high + half + (high >> 31)) >> exponent;
        }
        return fn_rdbpot(high, exponent);
    }
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return fn_rdbpot(fn_srdhm(fn_wrap_shl(x, left), multiplier), right);
}

/* TFLite's MultiplyByQuantizedMultiplierGreaterThanOne. */
static inline int32_t fn_mbqm_gt_one(int32_t x, int32_t multiplier, int32_t left_shift)
{
    return fn_srdhm(fn_wrap_shl(x, left_shift), multiplier);
}

/* Requantize a conv-style accumulator to int8 with activation clamp. */
static inline int8_t fn_requant_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                   int32_t act_min, int32_t act_max)
{
    const int32_t y = fn_wrap_add(fn_mbqm(acc, multiplier, shift), output_offset);
    return (int8_t)fn_clamp32(y, act_min, act_max);
}

/* ---- gemmlowp fixed point (int32 raw values), as LOGISTIC and SOFTMAX use it ---- */

/* Fixed-point product: raw result has integer bits = sum of the operands'. */
static inline int32_t fn_fx_mul(int32_t a, int32_t b) { return fn_srdhm(a, b); }

/* Saturating x * 2^exponent for exponent > 0, rounding divide for exponent < 0. */
static inline int32_t fn_fx_mul_pot(int32_t x, int exponent)
{
    if (exponent < 0) {
        return fn_rdbpot(x, -exponent);
    }
    if (exponent == 0) {
        return x;
    }
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return fn_wrap_shl(x, exponent);
}

/* Change the integer bits of a raw value from src to dst bits (gemmlowp Rescale). */
static inline int32_t fn_fx_rescale(int32_t x, int src_bits, int dst_bits)
{
    return fn_fx_mul_pot(x, src_bits - dst_bits);
}

/* exp(a) for a in [-1/4, 0), a and result with 0 integer bits. */
static inline int32_t fn_fx_exp_quarter_interval(int32_t a)
{
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = fn_wrap_add(a, 1 << 28); /* a + 1/8 */
    const int32_t x2 = fn_fx_mul(x, x);
    const int32_t x3 = fn_fx_mul(x2, x);
    const int32_t x4 = fn_fx_mul(x2, x2);
    const int32_t x4_over_4 = fn_fx_mul_pot(x4, -2);
    const int32_t poly = fn_fx_mul_pot(
        fn_wrap_add(fn_fx_mul(fn_wrap_add(x4_over_4, x3), constant_1_over_3), x2), -1);
    return fn_wrap_add(constant_term, fn_fx_mul(constant_term, fn_wrap_add(x, poly)));
}

/* exp(a) for a <= 0 with `integer_bits` integer bits; result has 0 integer bits. */
static inline int32_t fn_fx_exp_on_negative_values(int32_t a, int integer_bits)
{
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = fn_wrap_sub(a & mask, one_quarter);
    int32_t result = fn_fx_exp_quarter_interval(fn_fx_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    const int32_t remainder = fn_wrap_sub(a_mod_quarter_minus_one_quarter, a);
    for (int exponent = -2; exponent <= 4; ++exponent) {
        if (integer_bits > exponent) {
            const int shift = fractional_bits + exponent;
            if (remainder & (int32_t)((uint32_t)1 << shift)) {
                result = fn_fx_mul(result, barrel[exponent + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits)); /* -32.0 */
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = INT32_MAX;
    }
    return result;
}

/* gemmlowp's Newton-Raphson division: 1 / (2 * half_denominator) with 2 integer bits, for a
 * half_denominator (0 integer bits) in [1/2, 1). */
static inline int32_t fn_fx_newton_reciprocal(int32_t half_denominator)
{
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t f2_one = 1 << 29;
    int32_t x = fn_wrap_add(constant_48_over_17, fn_fx_mul(half_denominator, constant_neg_32_over_17));
    for (int i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = fn_fx_mul(half_denominator, x);
        const int32_t one_minus = fn_wrap_sub(f2_one, half_denominator_times_x);
        x = fn_wrap_add(x, fn_fx_rescale(fn_fx_mul(x, one_minus), 4, 2));
    }
    return x;
}

/* gemmlowp's RoundingHalfSum(a, 1) for a with 0 integer bits (1 is INT32_MAX there). */
static inline int32_t fn_fx_half_sum_with_one(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + x) for x in [0, 1), 0 integer bits in and out (Newton-Raphson). */
static inline int32_t fn_fx_one_over_one_plus_x(int32_t a)
{
    const int32_t x = fn_fx_newton_reciprocal(fn_fx_half_sum_with_one(a));
    /* ExactMulByPot<-1> keeps the raw value and drops an integer bit: 2 -> 1, then rescale to 0. */
    return fn_fx_rescale(x, 1, 0);
}

/* (1 - x) / (1 + x) for x in [0, 1), 0 integer bits in and out: the reciprocal minus one. */
static inline int32_t fn_fx_one_minus_x_over_one_plus_x(int32_t a)
{
    const int32_t x = fn_fx_newton_reciprocal(fn_fx_half_sum_with_one(a));
    return fn_fx_rescale(fn_wrap_sub(x, 1 << 29), 2, 0);
}

/* logistic(a) for a with 4 integer bits; result with 0 integer bits. */
static inline int32_t fn_fx_logistic_q4(int32_t a)
{
    if (a == 0) {
        return 1 << 30; /* one half */
    }
    const int32_t abs_a = a > 0 ? a : (int32_t)(0u - (uint32_t)a);
    const int32_t positive = fn_fx_one_over_one_plus_x(fn_fx_exp_on_negative_values((int32_t)(0u - (uint32_t)abs_a), 4));
    return a > 0 ? positive : fn_wrap_sub(INT32_MAX, positive);
}

/* tanh(a) for a with 4 integer bits; result with 0 integer bits (gemmlowp: exp(2a) of the negative
 * magnitude with 5 integer bits, then (1 - e) / (1 + e), the sign put back). */
static inline int32_t fn_fx_tanh_q4(int32_t a)
{
    if (a == 0) {
        return 0;
    }
    const int32_t negative = a < 0 ? a : (int32_t)(0u - (uint32_t)a);
    const int32_t t = fn_fx_one_minus_x_over_one_plus_x(fn_fx_exp_on_negative_values(negative, 5));
    return a < 0 ? (int32_t)(0u - (uint32_t)t) : t;
}

#endif /* FN_REQUANT_H */
