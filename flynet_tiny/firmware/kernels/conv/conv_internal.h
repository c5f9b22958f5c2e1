/* Declarations the conv family's files share (DSP build only); not part of the public API. */
#ifndef FN_CONV_INTERNAL_H
#define FN_CONV_INTERNAL_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* Conv im2col block: FN_CONV_BLOCK output pixels' columns, int16 (input + offset), interleaved so
 * one pass over a weight row feeds all of them. Group g of 4 values of pixel j sits at
 * block[g * 4 * FN_CONV_BLOCK + j * 4 ...] as [x0, x2, x1, x3], the order __sxtb16 and
 * __sxtb16(ror 8) unpack int8 weights in. */
#define FN_CONV_BLOCK 4
/* acc[j] = acc[0] + weight row (groups * 4 int8, groups >= 1) . column j of the block, j < 4. */
void fn_dot_1x4_s8_s16(const int8_t *w, const int16_t *block, int32_t groups, int32_t acc[4]);
/* A full block of the conv's fast case (weight rows of K = 4 * groups, bias present,
 * fn_fast_requant_applies): for each of `channels` output channels, dot products with the block's 4
 * columns, requantized and saturated to int8 (a narrower activation range is clamped afterwards, 4
 * bytes at a time), stored at dst + channel + j * out_c. The assembly reads the fields by offset. */
typedef struct {
    const int32_t *bias, *multiplier, *shift;
    int8_t *dst;
    int32_t out_c, channels;
    const int16_t *block;
    int32_t groups, output_offset;
} fn_conv_block_args;
void fn_conv_block_s8(const int8_t *filter, const fn_conv_block_args *args);
/* The same over rows that carry their parameters: per channel [bias][4 * groups weights][exponent][addend]
 * [multiplier] (words; the rows 4-byte aligned). Reads dst, out_c, channels, block and groups. */
void fn_conv_block_rows_s8(const int8_t *rows, const fn_conv_block_args *args);
/* 1x1 convs in tiles of 2 channels x 3 pixels (conv2d_1x1_s8_dsp.c), for the fast case with out_c >= 2
 * (requantized to the full int8 range; the caller clamps a narrower activation range): the scratch it needs for K input channels, and the kernel, which returns how many
 * output pixels it computed: all, or 0 when the map (or K) leaves no room for 2 tiles of 3 pixels in
 * its scratch (the caller does them). */
int32_t fn_conv1x1_scratch_bytes(const fn_dims *in_dims);
int32_t fn_conv1x1_tiles(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                         const int8_t *input, const int8_t *filter, const int32_t *bias, const fn_dims *out,
                         int8_t *output, void *scratch);
#endif

#endif /* FN_CONV_INTERNAL_H */
