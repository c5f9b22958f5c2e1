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

/* Most bytes of weight rows padded to whole groups of 4 (K not a multiple of 4: RGB stems, odd channel
 * counts), each with its bias and requantization words, that a call prepares in its scratch for
 * fn_conv_block_rows_s8; larger layers keep the C channel loop. */
#define FN_CONV_PADDED_WEIGHTS_MAX 4096
#define FN_CONV_ROW_WORDS 4 /* bias, exponent, addend, multiplier */

/* Scratch after the block: the int8 staging column where C is not a multiple of 4 (K rounded up to 4
 * bytes, + 4 that its word fills may run past), then the padded weights where K is not a multiple of 4
 * and they fit. */
static int32_t staging_bytes(const fn_dims *filter_dims)
{
    return (filter_dims->c & 3) ? column_length(filter_dims) + 4 : 0;
}
static int32_t padded_weights_bytes(const fn_dims *filter_dims)
{
    const int32_t k = filter_dims->h * filter_dims->w * filter_dims->c;
    const int32_t bytes = filter_dims->n * (column_length(filter_dims) + FN_CONV_ROW_WORDS * (int32_t)sizeof(int32_t));
    return (k & 3) && bytes <= FN_CONV_PADDED_WEIGHTS_MAX ? bytes : 0;
}
static int32_t block_path_bytes(const fn_dims *filter_dims)
{
    return FN_CONV_BLOCK * column_length(filter_dims) * (int32_t)sizeof(int16_t) + staging_bytes(filter_dims) +
           padded_weights_bytes(filter_dims);
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

/* n >= 4 bytes from src to dst in whole words (Cortex-M4/M7 LDR / STR allow unaligned addresses): the
 * last word ends at the last byte, overlapping the one before where n is not a multiple of 4 (the same
 * bytes again), so there is no byte loop and no read past src + n. Runs up to 12 bytes (a 3x3 window row
 * of RGB, or of up to 3 channels at kw <= 4) take 2 or 3 words without a loop. */
static inline void copy_run(int8_t *dst, const int8_t *src, int32_t n)
{
    const uint32_t first = fn_read_u32(src), last = fn_read_u32(src + n - 4);
    if (n <= 8) {
        __builtin_memcpy(dst, &first, 4);
    } else if (n <= 12) {
        const uint32_t middle = fn_read_u32(src + 4);
        __builtin_memcpy(dst, &first, 4);
        __builtin_memcpy(dst + 4, &middle, 4);
    } else {
        const int8_t *const end = src + n - 4;
        for (; src < end; dst += 4, src += 4, n -= 4) {
            const uint32_t v = fn_read_u32(src);
            __builtin_memcpy(dst, &v, 4);
        }
        __builtin_memcpy(dst + n - 4, &last, 4);
        return;
    }
    __builtin_memcpy(dst + n - 4, &last, 4);
}

/* n bytes from src to dst, any n (1..3: a halfword and / or a byte, as an RGB pixel of a dilated window). */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    if (n >= 4) {
        copy_run(dst, src, n);
        return;
    }
    if (n & 2) {
        uint16_t half;
        __builtin_memcpy(&half, src, 2);
        __builtin_memcpy(dst, &half, 2);
    }
    if (n & 1) {
        dst[n - 1] = src[n - 1];
    }
}

/* n bytes of `value4` (a byte in all 4 lanes) from dst on, whole words: up to 3 more bytes are written,
 * which the staging column has room for and its next copy overwrites (a byte loop would become a memset
 * call). */
static inline void fill_words(int8_t *dst, uint32_t value4, int32_t n)
{
    for (; n > 0; n -= 4, dst += 4) {
        __builtin_memcpy(dst, &value4, 4);
    }
}

/* What im2col_staged needs of the layer, set up once per call. */
typedef struct {
    const int8_t *input;
    int32_t channels, in_h, in_w, in_row, row_bytes, kh, kw, dh, dw, k, groups;
    int32_t offset2;
    uint32_t zero_point4;
    int8_t *column;
} staged_im2col;

static staged_im2col staged_setup(const fn_conv_params *p, const fn_dims *in, const int8_t *input, const fn_dims *f,
                                  int8_t *column)
{
    const int32_t offset = p->input_offset, row_bytes = f->w * in->c, k = f->h * row_bytes;
    const staged_im2col s = {input, in->c, in->h, in->w, in->w * in->c, row_bytes, f->h, f->w, p->dilation_h,
                             p->dilation_w, k, (k + 3) >> 2,
                             (int32_t)(((uint32_t)(uint16_t)offset << 16) | (uint16_t)offset),
                             0x01010101u * (uint8_t)(-offset), column};
    return s;
}

/* Column j of the block for C not a multiple of 4 (RGB stems, one-channel audio maps): the window's values
 * are first gathered as int8 into the staging column (a window row inside the map is kw * C contiguous
 * bytes, one copy; taps outside it get the input zero point, which becomes 0 with the offset added, as do
 * the bytes up to the whole group of 4), then widened 4 at a time with the offset added (one load, two
 * SXTAB16, two stores) instead of value by value. */
static void im2col_staged(const staged_im2col *s, int32_t b, int32_t y0, int32_t x0, int16_t *block, int32_t j)
{
    int8_t *col = s->column;
    const int inside_w = x0 >= 0 && x0 + (s->kw - 1) * s->dw < s->in_w;
    const int whole_rows = s->dw == 1 && inside_w;
    const int inside = inside_w && y0 >= 0 && y0 + (s->kh - 1) * s->dh < s->in_h;
    const int32_t src_step = s->dh * s->in_row, row_bytes = s->row_bytes;
    if (inside && whole_rows && row_bytes >= 4) {
        /* The whole window inside the map (most pixels): one run per filter row. */
        const int8_t *src = s->input + ((b * s->in_h + y0) * s->in_w + x0) * s->channels;
        for (int32_t ky = 0; ky < s->kh; ++ky, col += row_bytes, src += src_step) {
            copy_run(col, src, row_bytes);
        }
    } else if (inside && s->dw > 1) {
        /* A dilated window inside the map: one copy per tap. */
        const int8_t *src = s->input + ((b * s->in_h + y0) * s->in_w + x0) * s->channels;
        const int32_t tap_step = s->dw * s->channels, channels = s->channels;
        for (int32_t ky = 0; ky < s->kh; ++ky, col += row_bytes, src += src_step) {
            for (int32_t kx = 0; kx < s->kw; ++kx) {
                copy_bytes(col + kx * channels, src + kx * tap_step, channels);
            }
        }
    } else {
        for (int32_t ky = 0; ky < s->kh; ++ky, col += s->row_bytes) {
            const int32_t iy = y0 + ky * s->dh;
            if (iy < 0 || iy >= s->in_h) {
                fill_words(col, s->zero_point4, s->row_bytes);
                continue;
            }
            const int8_t *row = s->input + (b * s->in_h + iy) * s->in_row;
            if (whole_rows) {
                copy_bytes(col, row + x0 * s->channels, s->row_bytes);
                continue;
            }
            if (s->dw == 1) {
                /* Undilated across a border: the taps inside are one run, the rest the zero point (left part
                 * first: a whole-word fill may run into the next part, which then overwrites it). */
                const int32_t lo = fn_min32(x0 < 0 ? -x0 : 0, s->kw), hi = fn_min32(s->kw, s->in_w - x0);
                fill_words(col, s->zero_point4, lo * s->channels);
                if (hi > lo) {
                    copy_bytes(col + lo * s->channels, row + (x0 + lo) * s->channels, (hi - lo) * s->channels);
                }
                if (hi < s->kw) {
                    fill_words(col + fn_max32(hi, lo) * s->channels, s->zero_point4,
                               (s->kw - fn_max32(hi, lo)) * s->channels);
                }
                continue;
            }
            for (int32_t kx = 0; kx < s->kw; ++kx) {
                const int32_t ix = x0 + kx * s->dw;
                if (ix < 0 || ix >= s->in_w) {
                    fill_words(col + kx * s->channels, s->zero_point4, s->channels);
                } else {
                    copy_bytes(col + kx * s->channels, row + ix * s->channels, s->channels);
                }
            }
        }
    }
    fill_words(col, s->zero_point4, 4 * s->groups - s->k);
    int16_t *dst = block + j * 4;
    const int8_t *from = s->column, *const end = from + 4 * s->groups;
    const int32_t offset2 = s->offset2;
    for (; from != end; from += 4, dst += 4 * FN_CONV_BLOCK) {
        const uint32_t v = fn_read_u32(from);
        fn_write_pair(dst, __sxtab16(offset2, (int32_t)v));
        fn_write_pair(dst + 2, fn_sxtab16_ror8(offset2, v));
    }
}

/* fn_conv_block_rows_s8's rows (conv_internal.h): each channel's bias, its K weights zero-padded to whole
 * groups of 4, its exponent, addend and multiplier. */
static void prepare_rows(const int8_t *filter, int32_t k, const int32_t *bias, const fn_channel_quant *q,
                         int32_t output_offset, int32_t channels, int8_t *dst)
{
    const int32_t padded = (k + 3) & ~3;
    for (int32_t c = 0; c < channels; ++c, filter += k) {
        const int32_t exponent = -q->shift[c];
        const int32_t head = bias ? bias[c] : 0;
        const int32_t tail[3] = {exponent, fn_requant_addend(exponent, output_offset), q->multiplier[c]};
        __builtin_memcpy(dst, &head, 4);
        copy_bytes(dst + 4, filter, k);
        for (int32_t i = 4 + k; i < 4 + padded; ++i) {
            dst[i] = 0;
        }
        __builtin_memcpy(dst + 4 + padded, tail, sizeof tail);
        dst += 4 + padded + (int32_t)sizeof tail;
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
    /* Scratch behind the block: the staging column (C not a multiple of 4), the padded weights. */
    int8_t *const column = (int8_t *)(block + FN_CONV_BLOCK * column_length(f));
    int8_t *const padded = column + staging_bytes(f);
    const int pad_rows = padded_weights_bytes(f) > 0;
    /* The assembly block serves the common case whole: fn_conv_block_s8 from the weights as they are (K a
     * multiple of 4, a bias), fn_conv_block_rows_s8 from zero-padded rows with their parameters. */
    const int padded_rows = fast && k >= 4 && (k & 3) && pad_rows;
    const int whole_blocks = padded_rows || (fast && bias && (k & 3) == 0);
    if (padded_rows) {
        prepare_rows(filter, k, bias, q, p->output_offset, out_c, padded);
    }
    /* Output pixel i reads input pixel i alone (1x1, stride 1, no padding, whole groups of 4). */
    const int pointwise = f->h == 1 && f->w == 1 && p->stride_h == 1 && p->stride_w == 1 && pad_h == 0 &&
                          pad_w == 0 && (in->c & 3) == 0;
    /* 1x1 (never padded): tiles of 2 channels x 3 pixels (maps of 3 or more pixels). The assembly paths
     * saturate to int8; a narrower activation range is clamped over what they wrote (4 bytes at a time:
     * 1.5 instructions per output against 5 for a clamp per output in the assembly). */
    const int tiled = f->h == 1 && f->w == 1 && pad_h == 0 && pad_w == 0 && fast && out_c >= 2;
    const staged_im2col staged = staged_setup(p, in, input, f, column);
    const int32_t first = tiled ? fn_conv1x1_tiles(p, q, in, input, filter, bias, out, output, block) : 0;
    if (!full_range) {
        fn_clamp_bytes(output, first * out_c, o.act_min, o.act_max);
    }
    /* The position of output pixel `first`, stepped along with the blocks. */
    int32_t b = first / (out->h * out->w), oy = (first / out->w) % out->h, ox = first % out->w;
    for (int32_t pix = first; pix < pixels; pix += FN_CONV_BLOCK) {
        const int32_t count = fn_min32(FN_CONV_BLOCK, pixels - pix);
        if (pointwise && count == FN_CONV_BLOCK) {
            im2col_pointwise(input + pix * in->c, in->c, p->input_offset, block);
        } else {
            int32_t jb = b, jy = oy, jx = ox;
            for (int32_t j = 0; j < FN_CONV_BLOCK; ++j) {
                /* A short last block repeats its last pixel; those outputs are not stored. */
                const int32_t y0 = jy * p->stride_h - pad_h, x0 = jx * p->stride_w - pad_w;
                if (in->c & 3) {
                    im2col_staged(&staged, jb, y0, x0, block, j);
                } else {
                    im2col(p, in, input, f, jb, y0, x0, block, j);
                }
                if (j + 1 < count && ++jx == out->w) {
                    jx = 0;
                    if (++jy == out->h) {
                        jy = 0;
                        ++jb;
                    }
                }
            }
        }
        for (int32_t j = 0; j < count; ++j) {
            if (++ox == out->w) {
                ox = 0;
                if (++oy == out->h) {
                    oy = 0;
                    ++b;
                }
            }
        }
        int8_t *dst = output + pix * out_c;
        if (whole_blocks && count == FN_CONV_BLOCK) {
            const fn_conv_block_args args = {bias, q->multiplier, q->shift, dst, out_c, out_c, block,
                                             column_length(f) >> 2, o.output_offset};
            (padded_rows ? fn_conv_block_rows_s8 : fn_conv_block_s8)(padded_rows ? padded : filter, &args);
            if (!full_range) {
                fn_clamp_bytes(dst, FN_CONV_BLOCK * out_c, o.act_min, o.act_max);
            }
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
