/* CONV_2D int8, DSP path of conv2d_s8.c (Cortex-M4/M7), which includes this file: static functions
 * that fn_conv2d_s8 inlines.
 *
 * For each block of 4 output pixels, im2col into 4 interleaved int16 columns (input + offset, 0 for
 * padding; conv_internal.h), then one pass over each output channel's weight row accumulates all 4
 * pixels (SMLAD on SXTB16-unpacked weight pairs), and the channel's requantization parameters are
 * loaded once for the 4 outputs. The common case (K a multiple of 4, bias, fast requantization, full
 * int8 range) runs all channels of a block in assembly (fn_conv_block_s8, conv2d_s8_dsp.c); the rest
 * goes through fn_dot_1x4_s8_s16 and C. The same path serves 3x3 and other kernels, and the 1x1 convs
 * that the tiled path (conv2d_1x1_s8_dsp.c: fast, full-range requantization, 2+ channels, room for 2
 * tiles) does not take (a column is just the pixel; unpadded stride-1 1x1 convs fill the block
 * straight from 4 consecutive pixels).
 */
#ifndef FN_CONV2D_S8_DSP_H
#define FN_CONV2D_S8_DSP_H

#include "conv_internal.h"

#if FN_USE_DSP
/* Column length in int16 elements: K rounded up to whole groups of 4. */
static int32_t column_length(const fn_dims *filter_dims)
{
    return (filter_dims->h * filter_dims->w * filter_dims->c + 3) & ~3;
}

/* Slot of value k of pixel j in the interleaved block (conv_internal.h). */
static inline int32_t block_slot(int32_t k, int32_t j)
{
    static const int8_t lane[4] = {0, 2, 1, 3};
    return (k >> 2) * 4 * FN_CONV_BLOCK + j * 4 + lane[k & 3];
}

/* Column j of the block for the output pixel whose window starts at (y0, x0). */
static void im2col(const fn_conv_params *p, const fn_dims *in, const int8_t *input, const fn_dims *f,
                   int32_t b, int32_t y0, int32_t x0, int16_t *block, int32_t j)
{
    const int32_t channels = in->c, offset = p->input_offset;
    const int32_t offset2 = (int32_t)(((uint32_t)(uint16_t)offset << 16) | (uint16_t)offset);
    int32_t k = 0;
    for (int32_t ky = 0; ky < f->h; ++ky) {
        const int32_t iy = y0 + ky * p->dilation_h;
        for (int32_t kx = 0; kx < f->w; ++kx, k += channels) {
            const int32_t ix = x0 + kx * p->dilation_w;
            if (iy < 0 || iy >= in->h || ix < 0 || ix >= in->w) {
                for (int32_t ic = 0; ic < channels; ++ic) {
                    block[block_slot(k + ic, j)] = 0;
                }
                continue;
            }
            const int8_t *px = input + ((b * in->h + iy) * in->w + ix) * channels;
            int32_t ic = 0;
            if ((k & 3) == 0) { /* whole groups: 4 values with one load, two unpacks, two stores */
                int16_t *dst = block + (k >> 2) * 4 * FN_CONV_BLOCK + j * 4;
                for (; ic + 4 <= channels; ic += 4, dst += 4 * FN_CONV_BLOCK) {
                    const uint32_t v = fn_read_u32(px + ic);
                    fn_write_pair(dst, __sadd16(__sxtb16((int32_t)v), offset2));
                    fn_write_pair(dst + 2, __sadd16(fn_sxtb16_ror8(v), offset2));
                }
            }
            for (; ic < channels; ++ic) {
                block[block_slot(k + ic, j)] = (int16_t)(px[ic] + offset);
            }
        }
    }
    for (; (k & 3) != 0; ++k) { /* zero padding up to the whole group */
        block[block_slot(k, j)] = 0;
    }
}

/* The whole block of a 1x1, stride 1, unpadded conv with C a multiple of 4: its 4 columns are the 4
 * consecutive input pixels from px on, so each group of 4 values takes one load per pixel, with no
 * window arithmetic or border checks per pixel. */
static void im2col_pointwise(const int8_t *px, int32_t channels, int32_t input_offset, int16_t *block)
{
    const int32_t offset2 = (int32_t)(((uint32_t)(uint16_t)input_offset << 16) | (uint16_t)input_offset);
    for (int32_t ic = 0; ic < channels; ic += 4, px += 4, block += 4 * FN_CONV_BLOCK) {
        for (int32_t j = 0; j < FN_CONV_BLOCK; ++j) {
            const uint32_t v = fn_read_u32(px + j * channels);
            fn_write_pair(block + 4 * j, __sadd16(__sxtb16((int32_t)v), offset2));
            fn_write_pair(block + 4 * j + 2, __sadd16(fn_sxtb16_ror8(v), offset2));
        }
    }
}

/* Output parameters as locals, so int8 stores cannot force them to be reloaded (char aliasing). */
typedef struct {
    const int32_t *bias, *multiplier, *shift;
    int32_t output_offset, act_min, act_max;
} conv_output;

static inline int8_t requant_fast(int32_t acc, int32_t multiplier, int32_t exponent, int32_t addend,
                                  const conv_output *o, int full_range)
{
    const int32_t y = fn_requant_doubled(acc * 2, multiplier, exponent, addend);
    return (int8_t)(full_range ? __ssat(y, 8) : fn_clamp32(y, o->act_min, o->act_max));
}

/* Weights past the last whole group of 4 (K not a multiple of 4): the 1..3 of them packed with zeros
 * into one word (the columns are zero there too), then the same SMLADs as fn_dot_1x4_s8_s16. */
static void dot_tail(const int8_t *w, const int16_t *block, int32_t k, int32_t acc[FN_CONV_BLOCK])
{
    uint32_t packed = 0;
    for (int32_t i = k & ~3; i < k; ++i) {
        packed |= (uint32_t)(uint8_t)w[i] << (8 * (i & 3));
    }
    const int32_t even = __sxtb16((int32_t)packed), odd = fn_sxtb16_ror8(packed);
    const int16_t *group = block + (k >> 2) * 4 * FN_CONV_BLOCK;
    for (int32_t j = 0; j < FN_CONV_BLOCK; ++j) {
        acc[j] = __smlad(even, fn_read_pair(group + 4 * j), acc[j]);
        acc[j] = __smlad(odd, fn_read_pair(group + 4 * j + 2), acc[j]);
    }
}

/* All output channels of one block of `count` pixels. fast / full_range are constants at each call
 * (always inlined), so each combination is its own loop without per-output branches. */
static inline __attribute__((always_inline)) void block_channels(const int8_t *filter, const int16_t *block,
                                                                 int32_t k, int32_t out_c, const conv_output *o,
                                                                 int8_t *dst, int32_t count, int fast,
                                                                 int full_range)
{
    const int32_t groups = k >> 2;
    const int8_t *w = filter;
    for (int32_t oc = 0; oc < out_c; ++oc, w += k, ++dst) {
        int32_t acc[FN_CONV_BLOCK];
        acc[0] = o->bias ? o->bias[oc] : 0;
        if (groups > 0) {
            fn_dot_1x4_s8_s16(w, block, groups, acc);
        } else {
            acc[1] = acc[2] = acc[3] = acc[0];
        }
        if (k & 3) {
            dot_tail(w, block, k, acc);
        }
        const int32_t multiplier = o->multiplier[oc];
        if (fast && count == FN_CONV_BLOCK) {
            const int32_t exponent = -o->shift[oc];
            const int32_t addend = fn_requant_addend(exponent, o->output_offset);
            dst[0] = requant_fast(acc[0], multiplier, exponent, addend, o, full_range);
            dst[out_c] = requant_fast(acc[1], multiplier, exponent, addend, o, full_range);
            dst[2 * out_c] = requant_fast(acc[2], multiplier, exponent, addend, o, full_range);
            dst[3 * out_c] = requant_fast(acc[3], multiplier, exponent, addend, o, full_range);
        } else {
            for (int32_t j = 0; j < count; ++j) {
                dst[j * out_c] = fn_requant_s8(acc[j], multiplier, o->shift[oc], o->output_offset, o->act_min,
                                               o->act_max);
            }
        }
    }
}

static void conv_dsp(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                     const int8_t *input, const fn_dims *f, const int8_t *filter, const int32_t *bias,
                     const fn_dims *out, int8_t *output, int32_t pad_h, int32_t pad_w, int16_t *block)
{
    const int32_t k = f->h * f->w * f->c;
    const int32_t pixels = out->n * out->h * out->w;
    const int32_t out_c = out->c;
    const conv_output o = {bias, q->multiplier, q->shift, p->output_offset, p->act_min, p->act_max};
    const int fast = fn_fast_requant_applies(bias, q->shift, out_c, k);
    const int full_range = o.act_min <= FN_INT8_MIN && o.act_max >= FN_INT8_MAX;
    /* The assembly block (fn_conv_block_s8) serves the common case whole. */
    const int whole_blocks = fast && full_range && bias && (k & 3) == 0 && k >= 4;
    /* Output pixel i reads input pixel i alone (1x1, stride 1, no padding, whole groups of 4). */
    const int pointwise = f->h == 1 && f->w == 1 && p->stride_h == 1 && p->stride_w == 1 && pad_h == 0 &&
                          pad_w == 0 && (in->c & 3) == 0;
    /* 1x1 (never padded): tiles of 2 channels x 3 pixels (maps of 3 or more pixels). */
    const int tiled = f->h == 1 && f->w == 1 && pad_h == 0 && pad_w == 0 && fast && full_range && out_c >= 2;
    const int32_t first = tiled ? fn_conv1x1_tiles(p, q, in, input, filter, bias, out, output, block) : 0;
    for (int32_t pix = first; pix < pixels; pix += FN_CONV_BLOCK) {
        const int32_t count = fn_min32(FN_CONV_BLOCK, pixels - pix);
        if (pointwise && count == FN_CONV_BLOCK) {
            im2col_pointwise(input + pix * in->c, in->c, p->input_offset, block);
        } else {
            for (int32_t j = 0; j < FN_CONV_BLOCK; ++j) {
                /* A short last block repeats its last pixel; those outputs are not stored. */
                const int32_t idx = pix + fn_min32(j, count - 1);
                const int32_t b = idx / (out->h * out->w);
                const int32_t oy = (idx / out->w) % out->h;
                const int32_t ox = idx % out->w;
                im2col(p, in, input, f, b, oy * p->stride_h - pad_h, ox * p->stride_w - pad_w, block, j);
            }
        }
        int8_t *dst = output + pix * out_c;
        if (whole_blocks && count == FN_CONV_BLOCK) {
            const fn_conv_block_args args = {bias, q->multiplier, q->shift, dst, out_c, out_c, block, k >> 2,
                                             o.output_offset};
            fn_conv_block_s8(filter, &args);
        } else if (fast && full_range) {
            block_channels(filter, block, k, out_c, &o, dst, count, 1, 1);
        } else if (fast) {
            block_channels(filter, block, k, out_c, &o, dst, count, 1, 0);
        } else {
            block_channels(filter, block, k, out_c, &o, dst, count, 0, 0);
        }
    }
}
#endif

#endif /* FN_CONV2D_S8_DSP_H */
