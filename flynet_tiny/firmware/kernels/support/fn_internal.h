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

/* Shared checks of a conv-like layer: strides 1/2, dilation 1, positive dims,
 * output dims equal to TFLite's. Fills the leading paddings. */
fn_status fn_check_conv_geometry(const fn_conv_params *p, const fn_dims *in, int32_t filter_h,
                                 int32_t filter_w, const fn_dims *out, int32_t *pad_h, int32_t *pad_w);

int fn_dims_valid(const fn_dims *d);
int32_t fn_dims_count(const fn_dims *d);

/* Broadcast a 4-D input against the output: element strides, 0 where the input dim is 1. */
fn_status fn_broadcast_strides(const fn_dims *in, const fn_dims *out, int32_t strides[4]);

/* Elementwise binary op over 4-D broadcast shapes. */
typedef int8_t (*fn_binary_op)(const void *params, int8_t a, int8_t b);
fn_status fn_binary_broadcast(fn_binary_op op, const void *params, const fn_dims *in1_dims, const int8_t *in1,
                              const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims, int8_t *output);

/* One element of TFLM's int8 MUL, and one ADD operand rescaled to the ADD's common scale (the sum of two
 * such operands is requantized with the output multiplier): MUL, ADD and the fused Shift-Max share them. */
static inline int8_t fn_mul_s8_one(const fn_mul_params *p, int32_t a, int32_t b)
{
    const int32_t product = (a + p->input1_offset) * (b + p->input2_offset);
    return fn_requant_s8(product, p->output_multiplier, p->output_shift, p->output_offset, p->act_min, p->act_max);
}
static inline int32_t fn_add_s8_operand(int32_t x, int32_t offset, int32_t left_shift, int32_t multiplier,
                                        int32_t shift)
{
    return fn_mbqm(fn_wrap_shl(x + offset, left_shift), multiplier, shift);
}

/* Single-element pieces the ECA block reuses. */
void fn_mean_prepare(const fn_mean_params *p, int32_t count, int32_t *multiplier, int32_t *shift);
int8_t fn_mean_finish(const fn_mean_params *p, int32_t acc, int32_t multiplier, int32_t shift);
int8_t fn_mean_channel(const fn_mean_params *p, const int8_t *x, int32_t count, int32_t stride);
int8_t fn_logistic_one(const fn_logistic_params *p, int8_t value);
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
/* fn_requant_doubled's exponent for a TFLite shift: a right shift of 1..22, else 0 (it does not apply). */
static inline int32_t fn_doubled_exponent(int32_t shift) { return shift <= -1 && shift >= -22 ? -shift : 0; }
static inline int32_t fn_requant_addend(int32_t exponent, int32_t output_offset)
{
    return (int32_t)((1u << (exponent - 1)) + ((uint32_t)output_offset << exponent));
}
/* Whether fn_requant_doubled serves a whole layer (fn_requant_dsp.c): every shift is a right shift of 1..22 and every
 * accumulator (bias plus `products` products, |w| <= 128 times |x + offset| <= 256) stays below 2^30. */
int fn_fast_requant_applies(const int32_t *bias, const int32_t *shifts, int32_t channels, int32_t products);
#endif

#endif /* FN_INTERNAL_H */
