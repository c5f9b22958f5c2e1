/* Helpers shared by the kernel sources; not part of the public API. */
#ifndef FN_INTERNAL_H
#define FN_INTERNAL_H

#include "../flynet_kernels.h"
#include "fn_requant.h"

#if defined(__ARM_FEATURE_DSP) && !defined(FN_PORTABLE_ONLY)
#define FN_USE_DSP 1
#include <arm_acle.h>
#else
#define FN_USE_DSP 0
#endif

/* TFLite's output size and leading padding for one spatial axis. */
int32_t fn_output_size(fn_padding padding, int32_t in, int32_t filter, int32_t stride);
int32_t fn_leading_padding(int32_t in, int32_t filter, int32_t stride, int32_t out);

/* Rows (columns) a filter of `filter` taps spans at dilation `dilation`: (filter - 1) * dilation + 1. */
int32_t fn_dilated_size(int32_t filter, int32_t dilation);

/* Shared checks of a conv-like layer: strides and dilations >= 1, positive dims, output dims equal to
 * TFLite's for the dilated filter. Fills the leading paddings. */
fn_status fn_check_conv_geometry(const fn_conv_params *p, const fn_dims *in, int32_t filter_h,
                                 int32_t filter_w, const fn_dims *out, int32_t *pad_h, int32_t *pad_w);

/* The taps k in [*first, *end) of a window starting at `start` (taps `dilation` apart) that land on
 * 0..size-1; *end <= *first when none does. */
static inline void fn_tap_range(int32_t start, int32_t taps, int32_t dilation, int32_t size, int32_t *first,
                                int32_t *end)
{
    *first = start < 0 ? (-start + dilation - 1) / dilation : 0;
    const int32_t last = size - 1 - start; /* the last tap may sit at most this far from the start */
    *end = last < 0 ? 0 : fn_min32(taps, last / dilation + 1);
}

int fn_dims_valid(const fn_dims *d);
int32_t fn_dims_count(const fn_dims *d);

/* Broadcast a 4-D input against the output: element strides, 0 where the input dim is 1. */
fn_status fn_broadcast_strides(const fn_dims *in, const fn_dims *out, int32_t strides[4]);

/* Elementwise binary op over 4-D broadcast shapes: `row` computes out[i] = op(a[i * a_step], b[i * b_step])
 * for i < count (steps 0 or 1). fn_binary_broadcast merges dims that the operands walk alike, so equal
 * shapes take one call and a per-channel operand one call per pixel; out[i] is written after a[i] and
 * b[i] are read, so the output may be an operand of its own shape. */
typedef void (*fn_binary_row)(const void *params, const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step,
                              int8_t *out, int32_t count);
fn_status fn_binary_broadcast(fn_binary_row row, const void *params, const fn_dims *in1_dims, const int8_t *in1,
                              const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims, int8_t *output);
/* Defines `name`, an fn_binary_row applying `one(const params_type *, int8_t a, int8_t b)` (inlined). (The
 * compiler reloads the parameters after each int8 store, which may alias them; a local copy saves 4-5 loads
 * per value on long rows but costs more than that on a 3-channel input's rows: measured, left as is.) */
#define FN_BINARY_ROW(name, params_type, one)                                                              \
    static void name(const void *params, const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, \
                     int8_t *out, int32_t count)                                                           \
    {                                                                                                      \
        const params_type *p = (const params_type *)params;                                                \
        for (int32_t i = 0; i < count; ++i) {                                                              \
            out[i] = one(p, a[i * a_step], b[i * b_step]);                                                 \
        }                                                                                                  \
    }

/* ADD, SUB and SQUARED_DIFFERENCE's operand: (v + offset) << left_shift, rescaled to twice the larger
 * input scale (TFLM's MultiplyByQuantizedMultiplierSmallerThanOneExp; the shift is never positive). */
static inline int32_t fn_rescaled_operand(int32_t v, int32_t offset, int32_t left_shift, int32_t multiplier,
                                          int32_t shift)
{
    return fn_mbqm(fn_wrap_shl(v + offset, left_shift), multiplier, shift);
}

/* One element of TFLM's int8 MUL: MUL and the fused Shift-Max share it. */
static inline int8_t fn_mul_s8_one(const fn_mul_params *p, int32_t a, int32_t b)
{
    const int32_t product = (a + p->input1_offset) * (b + p->input2_offset);
    return fn_requant_s8(product, p->output_multiplier, p->output_shift, p->output_offset, p->act_min, p->act_max);
}

/* Single-element pieces MEAN and the ECA block share: the multiplier with the division by count folded in
 * (once per call), and the requantized sum. */
void fn_mean_prepare(const fn_mean_params *p, int32_t count, int32_t *multiplier, int32_t *shift);
int8_t fn_mean_finish(const fn_mean_params *p, int32_t acc, int32_t multiplier, int32_t shift);
int8_t fn_logistic_one(const fn_logistic_params *p, int8_t value);

/* LOGISTIC and TANH (TFLM's int8 kernels): the input rescaled to Q4.27 (saturating to the int8 ends where
 * |x - zp| reaches the radius), gemmlowp's fixed-point `f`, the Q0.31 result rounded to 2^-fraction_bits
 * steps plus `offset`. */
static inline int8_t fn_q4_function_s8(const fn_logistic_params *p, int8_t value, int32_t (*f)(int32_t),
                                       int fraction_bits, int32_t offset)
{
    const int32_t x = (int32_t)value - p->input_zero_point;
    if (x <= -p->input_range_radius) {
        return FN_INT8_MIN;
    }
    if (x >= p->input_range_radius) {
        return FN_INT8_MAX;
    }
    const int32_t y = fn_rdbpot(f(fn_mbqm(x, p->input_multiplier, p->input_left_shift)), 31 - fraction_bits) + offset;
    return (int8_t)fn_clamp32(y, FN_INT8_MIN, FN_INT8_MAX);
}
/* One softmax row. `exp_memo` (or NULL): FN_SOFTMAX_EXP_MEMO entries, -1 where unknown, that keep
 * each exp by -(difference to the row max) across the rows of one call (ECA's many short rows). */
#define FN_SOFTMAX_EXP_MEMO 256
void fn_softmax_row(const fn_softmax_params *p, int32_t depth, const int8_t *in, int32_t in_stride, int8_t *out,
                    int32_t out_stride, int32_t *exp_memo);

#if FN_USE_DSP
#include <stddef.h>

/* Marks the parameters of a naked function, which only its assembly reads. */
#define FN_IN_ASM __attribute__((unused))
/* Fail the build where a struct field no longer sits at the byte offset (or a struct no longer has the
 * size) that the assembly next to the check assumes (the DSP builds are 32-bit: 4-byte pointers). */
#define FN_ASM_OFFSET(type, field, offset) \
    _Static_assert(offsetof(type, field) == (offset), #type "." #field " is read by assembly at byte " #offset)
#define FN_ASM_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " is stepped by assembly in " #size " bytes")

/* 4 int8 from any address (Cortex-M4/M7 LDR allows unaligned access). */
static inline uint32_t fn_read_u32(const int8_t *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}
/* Two int16 as one word (memcpy keeps the access free of aliasing assumptions; it compiles to LDR / STR). */
static inline int32_t fn_read_pair(const int16_t *p)
{
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}
static inline void fn_write_pair(int16_t *p, int32_t v) { __builtin_memcpy(p, &v, 4); }
static inline uint32_t fn_ror8(uint32_t x) { return (x >> 8) | (x << 24); }
/* Bytes 1 and 3 of x sign-extended and added to the halfwords of a: __sxtab16(a, ror(x, 8)) in one
 * instruction. */
static inline int32_t fn_sxtab16_ror8(int32_t a, uint32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
/* Bytes 1 and 3 sign-extended to halfwords: __sxtb16(ror(x, 8)) in one instruction. */
static inline int32_t fn_sxtb16_ror8(uint32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* TFLite's MultiplyByQuantizedMultiplier plus the output offset, for an accumulator given doubled
 * (acc2 = 2 * acc, |acc| < 2^30) and a right shift exponent of 1..22: SMMULR's round(acc2 * m / 2^32)
 * is SaturatingRoundingDoublingHighMul(acc, m) in one instruction, and the rounding divide (ties away
 * from zero) plus the offset is (x + addend + sign) >> exponent with
 * addend = 2^(exponent - 1) + (output_offset << exponent) (fn_requant_addend); no sum can overflow. */
static inline int32_t fn_requant_doubled(int32_t acc2, int32_t multiplier, int32_t exponent, int32_t addend)
{
    int32_t high;
    __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(acc2), "r"(multiplier));
    return (high + addend + (high >> 31)) >> exponent;
}
/* A byte in all 4 lanes. */
static inline uint32_t fn_lanes(int32_t value) { return 0x01010101u * (uint8_t)value; }

/* Per signed byte lane: x clamped to [lo, hi]. SEL reads the GE flags SSUB8 just set, so each pair
 * stays together in one asm (the compiler sees no dependency through the flags). */
static inline uint32_t fn_clamp_s8x4(uint32_t x, uint32_t lo4, uint32_t hi4)
{
    uint32_t ge;
    __asm__("ssub8 %1, %0, %2\n\t"
            "sel %0, %0, %2\n\t"
            "ssub8 %1, %3, %0\n\t"
            "sel %0, %0, %3"
            : "+r"(x), "=&r"(ge)
            : "r"(lo4), "r"(hi4)
            : "cc");
    return x;
}

/* n int8 values clamped to [lo, hi] in place, 4 per word (a fused activation applied after full-range
 * requantization: clamp(ssat8(y)) = clamp(y) for -128 <= lo <= hi <= 127). */
static inline void fn_clamp_bytes(int8_t *p, int32_t n, int32_t lo, int32_t hi)
{
    const uint32_t lo4 = fn_lanes(lo), hi4 = fn_lanes(hi);
    int8_t *const end4 = p + (n & ~3), *const end = p + n;
    for (; p != end4; p += 4) {
        const uint32_t v = fn_clamp_s8x4(fn_read_u32(p), lo4, hi4);
        __builtin_memcpy(p, &v, 4);
    }
    for (; p != end; ++p) {
        *p = (int8_t)fn_clamp32(*p, lo, hi);
    }
}

/* fn_requant_doubled's exponent for a TFLite shift: a right shift of 1..22, else 0 (it does not apply). */
static inline int32_t fn_doubled_exponent(int32_t shift) { return shift <= -1 && shift >= -22 ? -shift : 0; }
static inline int32_t fn_requant_addend(int32_t exponent, int32_t output_offset)
{
    return (int32_t)((1u << (exponent - 1)) + ((uint32_t)output_offset << exponent));
}
/* TFLite's MultiplyByQuantizedMultiplier(acc, multiplier, shift) + offset for a short accumulator
 * (|acc| <= 2^16: the product of two offset int8 values): SMMULR of acc << (shift + 1) is
 * SaturatingRoundingDoublingHighMul(acc << shift, multiplier) for a shift of 0..13 (never its saturating
 * case), and a right shift of 1..22 is fn_requant_doubled of 2 acc. fn_short_requant_prepare says
 * whether the parameters allow it (a multiplier >= 0, those shifts, an int8 offset). */
typedef struct {
    int32_t multiplier, left, exponent, addend;
} fn_short_requant;

static inline int fn_short_requant_prepare(int32_t multiplier, int32_t shift, int32_t offset, fn_short_requant *q)
{
    if (multiplier < 0 || shift > 13 || shift < -22 || offset < FN_INT8_MIN || offset > FN_INT8_MAX) {
        return 0;
    }
    q->multiplier = multiplier;
    q->left = shift >= 0 ? shift + 1 : 1;
    q->exponent = shift >= 0 ? 0 : -shift;
    q->addend = shift >= 0 ? offset : fn_requant_addend(-shift, offset);
    return 1;
}

static inline int32_t fn_short_requant_apply(const fn_short_requant *q, int32_t acc)
{
    int32_t high;
    __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"((int32_t)((uint32_t)acc << q->left)), "r"(q->multiplier));
    return q->exponent ? (high + q->addend + (high >> 31)) >> q->exponent : high + q->addend;
}

/* Whether fn_requant_doubled serves a whole layer (fn_requant_dsp.c): every shift is a right shift of 1..22 and every
 * accumulator (bias plus `products` products, |w| <= 128 times |x + offset| <= 256) stays below 2^30. */
int fn_fast_requant_applies(const int32_t *bias, const int32_t *shifts, int32_t channels, int32_t products);
#endif

#endif /* FN_INTERNAL_H */
