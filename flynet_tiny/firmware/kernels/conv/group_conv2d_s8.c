/* Grouped CONV_2D int8: TFLite's CONV_2D whose filter holds C_in / G input channels (TFLM's
 * ConvPerChannel with groups = C_in / filter depth), with an optional input channel map.
 *
 * Output channel o belongs to group g = o / (C_out / G) and reads the group's Cf = C_in / G input
 * channels g*Cf .. g*Cf + Cf - 1, each through the map (channel_map[g*Cf + i], or g*Cf + i with no
 * map): a fixed channel permutation in front of the conv (MicroNet's GroupShuffle) costs no copy.
 *
 * Portable path: direct loops over any kernel size, stride and padding. DSP path (1x1 filters, no
 * padding, the MicroNet case): blocks of 4 output pixels; per group, the block's Cf input values of
 * each pixel are gathered once as int16 (x + input_offset, interleaved [x0, x2], [x1, x3] per 4 as
 * SXTB16 unpacks weights; one word and two SXTAB16 per 4 values without a map), then every output
 * channel of the group unpacks each weight word once for the 4 pixels: 1 LDR + 2 SXTB16 + 8 LDR/SMLAD
 * pairs per 16 MACs (a block of fewer pixels skips the other three). Integer sums are exact, so both
 * paths give identical bytes.
 */
#include "../support/fn_internal.h"

#define GROUP_BLOCK 4 /* output pixels per DSP block */

static int32_t in_channel(const int16_t *map, int32_t logical) { return map ? map[logical] : logical; }

/* Cf rounded up to whole words of 4 int8. */
static inline int32_t padded_depth(const fn_dims *f) { return (f->c + 3) & ~3; }

int32_t fn_group_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    (void)in_dims;
#if FN_USE_DSP
    if (filter_dims->h == 1 && filter_dims->w == 1) {
        return GROUP_BLOCK * padded_depth(filter_dims) * (int32_t)sizeof(int16_t);
    }
#endif
    (void)filter_dims;
    return 0;
}

static int32_t group_acc(const fn_conv_params *p, const fn_dims *in, const int8_t *input, const int16_t *map,
                         const fn_dims *f, const int8_t *filter, int32_t first, int32_t b, int32_t y0, int32_t x0,
                         int32_t oc)
{
    int32_t acc = 0;
    for (int32_t ky = 0; ky < f->h; ++ky) {
        const int32_t iy = y0 + ky;
        if (iy < 0 || iy >= in->h) {
            continue;
        }
        for (int32_t kx = 0; kx < f->w; ++kx) {
            const int32_t ix = x0 + kx;
            if (ix < 0 || ix >= in->w) {
                continue;
            }
            const int8_t *ip = input + ((b * in->h + iy) * in->w + ix) * in->c;
            const int8_t *wp = filter + ((oc * f->h + ky) * f->w + kx) * f->c;
            for (int32_t i = 0; i < f->c; ++i) {
                acc += (int32_t)wp[i] * ((int32_t)ip[in_channel(map, first + i)] + p->input_offset);
            }
        }
    }
    return acc;
}

static void group_portable(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                           const int8_t *input, const int16_t *map, const fn_dims *f, const int8_t *filter,
                           const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h, int32_t pad_w)
{
    const int32_t per_group = out->c / (in->c / f->c);
    for (int32_t b = 0; b < out->n; ++b) {
        for (int32_t oy = 0; oy < out->h; ++oy) {
            for (int32_t ox = 0; ox < out->w; ++ox) {
                const int32_t y0 = oy * p->stride_h - pad_h, x0 = ox * p->stride_w - pad_w;
                for (int32_t oc = 0; oc < out->c; ++oc) {
                    int32_t acc = group_acc(p, in, input, map, f, filter, (oc / per_group) * f->c, b, y0, x0, oc);
                    if (bias) {
                        acc += bias[oc];
                    }
                    *output++ = fn_requant_s8(acc, q->multiplier[oc], q->shift[oc], p->output_offset, p->act_min,
                                              p->act_max);
                }
            }
        }
    }
}

#if FN_USE_DSP
/* Up to 4 int8 weights from p, zeros past `count` (no read past the filter row). */
static inline uint32_t read_weights(const int8_t *p, int32_t count)
{
    if (count >= 4) {
        return fn_read_u32(p);
    }
    uint32_t v = 0;
    for (int32_t i = 0; i < count; ++i) {
        v |= (uint32_t)(uint8_t)p[i] << (8 * i);
    }
    return v;
}

static inline int32_t pack_pair(int32_t low, int32_t high) { return (int32_t)(((uint32_t)low & 0xFFFFu) | ((uint32_t)high << 16)); }

/* One pixel's Cf group inputs (x + offset) into its block column: per word of 4 values the pairs [x0, x2],
 * [x1, x3], then the column of the next pixel (stride 4 pairs); zeros past Cf. Without a map the 4
 * values are one word, unpacked by SXTAB16. */
static void gather_column(const int8_t *pixel, const int16_t *map, int32_t first, int32_t depth, int32_t offset,
                          int16_t *column)
{
    const int32_t offsets = pack_pair(offset, offset);
    for (int32_t i = 0; i < depth; i += 4, column += 4 * GROUP_BLOCK) {
        int32_t even, odd;
        if (!map && depth - i >= 4) {
            const uint32_t w = fn_read_u32(pixel + first + i);
            even = __sxtab16(offsets, w);
            odd = __sxtab16(offsets, fn_ror8(w));
        } else {
            int32_t v[4];
            for (int32_t r = 0; r < 4; ++r) {
                v[r] = i + r < depth ? pixel[map ? map[first + i + r] : first + i + r] + offset : 0;
            }
            even = pack_pair(v[0], v[2]);
            odd = pack_pair(v[1], v[3]);
        }
        fn_write_pair(column, even);
        fn_write_pair(column + 2, odd);
    }
}

static void group_pointwise_dsp(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                                const int8_t *input, const int16_t *map, const fn_dims *f, const int8_t *filter,
                                const int32_t *bias, const fn_dims *out, int8_t *output, int16_t *block)
{
    const int32_t depth = f->c, words = padded_depth(f) >> 2;
    const int32_t groups = in->c / depth, per_group = out->c / groups, out_c = out->c;
    const int32_t pixels = out->n * out->h * out->w;
    const int32_t *const mult = q->multiplier, *const shifts = q->shift;
    const int32_t out_off = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int8_t *pixel_in[GROUP_BLOCK];
    for (int32_t start = 0; start < pixels; start += GROUP_BLOCK) {
        const int32_t count = fn_min32(GROUP_BLOCK, pixels - start);
        for (int32_t j = 0; j < count; ++j) {
            const int32_t px = start + j;
            const int32_t b = px / (out->h * out->w), oy = (px / out->w) % out->h, ox = px % out->w;
            pixel_in[j] = input + ((b * in->h + oy * p->stride_h) * in->w + ox * p->stride_w) * in->c;
        }
        int8_t *dst = output + start * out_c;
        for (int32_t g = 0; g < groups; ++g) {
            for (int32_t j = 0; j < count; ++j) {
                gather_column(pixel_in[j], map, g * depth, depth, p->input_offset, block + 4 * j);
            }
            for (int32_t oc = g * per_group; oc < (g + 1) * per_group; ++oc) {
                const int8_t *row = filter + oc * depth;
                const int32_t start_acc = bias ? bias[oc] : 0;
                int32_t acc0 = start_acc, acc1 = start_acc, acc2 = start_acc, acc3 = start_acc;
                const int16_t *column = block;
                for (int32_t t = 0; t < words; ++t, column += 4 * GROUP_BLOCK) {
                    const uint32_t w = read_weights(row + 4 * t, depth - 4 * t);
                    const int32_t even = __sxtb16(w), odd = fn_sxtb16_ror8(w);
                    acc0 = __smlad(odd, fn_read_pair(column + 2), __smlad(even, fn_read_pair(column), acc0));
                    if (count > 1) {
                        acc1 = __smlad(odd, fn_read_pair(column + 6), __smlad(even, fn_read_pair(column + 4), acc1));
                        acc2 = __smlad(odd, fn_read_pair(column + 10), __smlad(even, fn_read_pair(column + 8), acc2));
                        acc3 = __smlad(odd, fn_read_pair(column + 14), __smlad(even, fn_read_pair(column + 12), acc3));
                    }
                }
                const int32_t accs[GROUP_BLOCK] = {acc0, acc1, acc2, acc3};
                for (int32_t j = 0; j < count; ++j) {
                    dst[j * out_c + oc] = fn_requant_s8(accs[j], mult[oc], shifts[oc], out_off, act_min, act_max);
                }
            }
        }
    }
}
#endif

fn_status fn_group_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                             const int8_t *input, const int16_t *channel_map, const fn_dims *filter_dims,
                             const int8_t *filter, const int32_t *bias, const fn_dims *out_dims, int8_t *output,
                             void *scratch)
{
    if (!p || !q || !input || !filter || !output || !filter_dims || !q->multiplier || !q->shift) {
        return FN_ERR_ARGUMENT;
    }
    int32_t pad_h, pad_w;
    const fn_status status = fn_check_conv_geometry(p, in_dims, filter_dims->h, filter_dims->w, out_dims,
                                                    &pad_h, &pad_w);
    if (status != FN_OK) {
        return status;
    }
    if (filter_dims->c < 1 || in_dims->c % filter_dims->c || filter_dims->n != out_dims->c
            || out_dims->c % (in_dims->c / filter_dims->c)) {
        return FN_ERR_SHAPE; /* the groups must split both channel counts */
    }
    if (channel_map) {
        for (int32_t i = 0; i < in_dims->c; ++i) {
            if (channel_map[i] < 0 || channel_map[i] >= in_dims->c) {
                return FN_ERR_ARGUMENT;
            }
        }
    }
#if FN_USE_DSP
    if (filter_dims->h == 1 && filter_dims->w == 1 && pad_h == 0 && pad_w == 0) {
        if (!scratch) {
            return FN_ERR_ARGUMENT;
        }
        group_pointwise_dsp(p, q, in_dims, input, channel_map, filter_dims, filter, bias, out_dims, output,
                            (int16_t *)scratch);
        return FN_OK;
    }
#endif
    (void)scratch;
    group_portable(p, q, in_dims, input, channel_map, filter_dims, filter, bias, out_dims, output, pad_h, pad_w);
    return FN_OK;
}
