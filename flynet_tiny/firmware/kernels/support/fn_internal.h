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

/* Largest channel multiplier (MDW heads) the depthwise kernels accept. */
#define FN_MAX_HEADS 16

fn_status fn_check_depthwise(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                             const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                             const fn_dims *out_dims, int32_t out_c, const int8_t *output, int32_t *pad_h,
                             int32_t *pad_w);

/* Depthwise conv over all pixels; with maxout, each channel's heads are reduced by max. `scratch`:
 * fn_depthwise_conv2d_s8_get_buffer_size bytes (the DSP build's 3x3 path needs them). */
fn_status fn_depthwise_run(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                           const int8_t *input, const fn_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                           const fn_dims *out_dims, int8_t *output, int maxout, void *scratch);

/* Elementwise binary op over 4-D broadcast shapes. */
typedef int8_t (*fn_binary_op)(const void *params, int8_t a, int8_t b);
fn_status fn_binary_broadcast(fn_binary_op op, const void *params, const fn_dims *in1_dims, const int8_t *in1,
                              const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims, int8_t *output);

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
/* Whether fn_requant_doubled serves a whole layer: every shift is a right shift of 1..22 and every
 * accumulator (bias plus `products` products, |w| <= 128 times |x + offset| <= 256) stays below 2^30. */
int fn_fast_requant_applies(const int32_t *bias, const int32_t *shifts, int32_t channels, int32_t products);

/* 3x3 depthwise / MDW over channel planes (depthwise_3x3_dsp.c): whether it serves the filter, the
 * scratch 3x3 or 5x5 planes need, and the kernel (shapes checked, fn_fast_requant_applies true). */
int fn_dw3x3_applies(const fn_dims *filter_dims);
int fn_dw5x5_applies(const fn_dims *filter_dims);
int32_t fn_dw_plane_bytes(const fn_dims *in_dims, const fn_dims *filter_dims);
void fn_dw3x3_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                     const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                     int32_t pad_w, int maxout, int8_t *plane);
/* 5x5 depthwise / MDW over the same planes: whether they serve the call (pads, widths), and the kernel. */
int fn_dw5x5_fits(const fn_dims *filter_dims, const fn_conv_params *p, const fn_dims *in, const fn_dims *out,
                  int32_t pad_h, int32_t pad_w);
void fn_dw5x5_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                     const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                     int32_t pad_w, int maxout, int8_t *plane);

/* Conv im2col block: FN_CONV_BLOCK output pixels' columns, int16 (input + offset), interleaved so
 * one pass over a weight row feeds all of them. Group g of 4 values of pixel j sits at
 * block[g * 4 * FN_CONV_BLOCK + j * 4 ...] as [x0, x2, x1, x3], the order __sxtb16 and
 * __sxtb16(ror 8) unpack int8 weights in. */
#define FN_CONV_BLOCK 4
/* acc[j] = acc[0] + weight row (groups * 4 int8, groups >= 1) . column j of the block, j < 4. */
void fn_dot_1x4_s8_s16(const int8_t *w, const int16_t *block, int32_t groups, int32_t acc[4]);
/* A full block of the conv's fast case (K = 4 * groups, bias present, fn_fast_requant_applies, full
 * int8 range): for each of `channels` output channels, dot products with the block's 4 columns,
 * requantized, stored at dst + channel + j * out_c. The assembly reads the fields by offset. */
typedef struct {
    const int32_t *bias, *multiplier, *shift;
    int8_t *dst;
    int32_t out_c, channels;
    const int16_t *block;
    int32_t groups, output_offset;
} fn_conv_block_args;
void fn_conv_block_s8(const int8_t *filter, const fn_conv_block_args *args);
/* 1x1 convs in tiles of 2 channels x 3 pixels (conv_1x1_dsp.c), for the fast, full-range case with
 * out_c >= 2: the scratch it needs for K input channels, and the kernel, which returns how many
 * output pixels it computed: all, or 0 when the map (or K) leaves no room for 2 tiles of 3 pixels in
 * its scratch (the caller does them). */
int32_t fn_conv1x1_scratch_bytes(const fn_dims *in_dims);
int32_t fn_conv1x1_tiles(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                         const int8_t *input, const int8_t *filter, const int32_t *bias, const fn_dims *out,
                         int8_t *output, void *scratch);
#endif

#endif /* FN_INTERNAL_H */
