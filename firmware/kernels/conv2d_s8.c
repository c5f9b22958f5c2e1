/* CONV_2D int8 with per-channel requantization (TFLM reference_integer_ops::ConvPerChannel).
 *
 * Portable path: direct loops, with a bounds-check-free loop for 1x1 kernels.
 * DSP path: for each pair of output pixels, im2col into two int16 columns
 * (input + offset, 0 for padding), then 2x2 blocks of __smlad dot products
 * over output-channel pairs. The same path serves 1x1 (the column is just the
 * pixel) and 3x3 and other kernels. Integer sums are exact, so both paths give
 * identical bytes.
 */
#include "fn_internal.h"

#if FN_USE_DSP
/* int16 elements between the two im2col columns: rounded up so the second column
 * starts word aligned (the dot product reads columns as 32-bit pairs). */
static int32_t column_stride(const fn_dims *filter_dims)
{
    return (filter_dims->h * filter_dims->w * filter_dims->c + 3) & ~3;
}
#endif

int32_t fn_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
#if FN_USE_DSP
    (void)in_dims;
    return 2 * column_stride(filter_dims) * (int32_t)sizeof(int16_t);
#else
    (void)in_dims;
    (void)filter_dims;
    return 0;
#endif
}

#if !FN_USE_DSP
static int32_t conv_one_output(const fn_conv_params *p, const fn_dims *in, const int8_t *input,
                               const fn_dims *f, const int8_t *filter, int32_t b, int32_t y0,
                               int32_t x0, int32_t oc)
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
            for (int32_t ic = 0; ic < in->c; ++ic) {
                acc += (int32_t)wp[ic] * ((int32_t)ip[ic] + p->input_offset);
            }
        }
    }
    return acc;
}

static void conv_portable(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                          const int8_t *input, const fn_dims *f, const int8_t *filter,
                          const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                          int32_t pad_w)
{
    const int pointwise = f->h == 1 && f->w == 1 && p->stride_h == 1 && p->stride_w == 1;
    /* Locals, so int8 stores cannot force the parameters to be reloaded (char aliasing). */
    const int32_t *const mult = q->multiplier, *const shifts = q->shift;
    const int32_t out_off = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    for (int32_t b = 0; b < out->n; ++b) {
        for (int32_t oy = 0; oy < out->h; ++oy) {
            for (int32_t ox = 0; ox < out->w; ++ox) {
                const int32_t y0 = oy * p->stride_h - pad_h;
                const int32_t x0 = ox * p->stride_w - pad_w;
                const int8_t *pixel = input + ((b * in->h + oy) * in->w + ox) * in->c;
                for (int32_t oc = 0; oc < out->c; ++oc) {
                    int32_t acc;
                    if (pointwise) {
                        const int8_t *wp = filter + oc * in->c;
                        acc = 0;
                        for (int32_t ic = 0; ic < in->c; ++ic) {
                            acc += (int32_t)wp[ic] * ((int32_t)pixel[ic] + p->input_offset);
                        }
                    } else {
                        acc = conv_one_output(p, in, input, f, filter, b, y0, x0, oc);
                    }
                    if (bias) {
                        acc += bias[oc];
                    }
                    *output++ = fn_requant_s8(acc, mult[oc], shifts[oc], out_off, act_min, act_max);
                }
            }
        }
    }
}
#else
/* Column of one output pixel, int16 (x + offset), groups of 4 as [x0, x2, x1, x3]. */
static void im2col(const fn_conv_params *p, const fn_dims *in, const int8_t *input, const fn_dims *f,
                   int32_t b, int32_t y0, int32_t x0, int16_t *col)
{
    const int32_t k = f->h * f->w * f->c;
    if (f->h == 1 && f->w == 1 && (in->c & 3) == 0) {
        const int8_t *px = input + ((b * in->h + y0) * in->w + x0) * in->c;
        const int32_t offset2 = (int32_t)(((uint32_t)(uint16_t)p->input_offset << 16) | (uint16_t)p->input_offset);
        for (int32_t i = 0; i < in->c; i += 4) {
            const uint32_t v = fn_read_u32(px + i);
            fn_write_pair(col + i, __sadd16(__sxtb16((int32_t)v), offset2));
            fn_write_pair(col + i + 2, __sadd16(fn_sxtb16_ror8(v), offset2));
        }
        return;
    }
    int16_t *dst = col;
    for (int32_t ky = 0; ky < f->h; ++ky) {
        const int32_t iy = y0 + ky;
        for (int32_t kx = 0; kx < f->w; ++kx) {
            const int32_t ix = x0 + kx;
            if (iy < 0 || iy >= in->h || ix < 0 || ix >= in->w) {
                for (int32_t ic = 0; ic < in->c; ++ic) {
                    *dst++ = 0;
                }
                continue;
            }
            const int8_t *px = input + ((b * in->h + iy) * in->w + ix) * in->c;
            for (int32_t ic = 0; ic < in->c; ++ic) {
                *dst++ = (int16_t)(px[ic] + p->input_offset);
            }
        }
    }
    for (int32_t i = 0; i + 4 <= k; i += 4) {
        const int16_t t = col[i + 1];
        col[i + 1] = col[i + 2];
        col[i + 2] = t;
    }
}

static void conv_dsp(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                     const int8_t *input, const fn_dims *f, const int8_t *filter, const int32_t *bias,
                     const fn_dims *out, int8_t *output, int32_t pad_h, int32_t pad_w, int16_t *scratch)
{
    const int32_t k = f->h * f->w * f->c;
    const int32_t pixels = out->n * out->h * out->w;
    /* Locals, so int8 stores cannot force the parameters to be reloaded (char aliasing). */
    const int32_t *const mult = q->multiplier, *const shifts = q->shift;
    const int32_t out_off = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    int16_t *col0 = scratch;
    int16_t *col1 = scratch + column_stride(f);
    for (int32_t pix = 0; pix < pixels; pix += 2) {
        const int32_t ncols = pixels - pix >= 2 ? 2 : 1;
        for (int32_t j = 0; j < ncols; ++j) {
            const int32_t idx = pix + j;
            const int32_t b = idx / (out->h * out->w);
            const int32_t oy = (idx / out->w) % out->h;
            const int32_t ox = idx % out->w;
            im2col(p, in, input, f, b, oy * p->stride_h - pad_h, ox * p->stride_w - pad_w, j ? col1 : col0);
        }
        int8_t *out0 = output + pix * out->c;
        int8_t *out1 = out0 + out->c;
        int32_t oc = 0;
        for (; oc + 2 <= out->c; oc += 2) {
            int32_t acc[4];
            const int8_t *w0 = filter + oc * k;
            if (ncols == 2) {
                fn_dot_2x2_s8_s16(w0, w0 + k, col0, col1, k, acc);
            } else {
                acc[0] = fn_dot_1x1_s8_s16(w0, col0, k);
                acc[2] = fn_dot_1x1_s8_s16(w0 + k, col0, k);
            }
            for (int32_t r = 0; r < 2; ++r) {
                const int32_t c = oc + r;
                const int32_t bias_c = bias ? bias[c] : 0;
                out0[c] = fn_requant_s8(acc[2 * r] + bias_c, mult[c], shifts[c], out_off, act_min, act_max);
                if (ncols == 2) {
                    out1[c] = fn_requant_s8(acc[2 * r + 1] + bias_c, mult[c], shifts[c], out_off, act_min, act_max);
                }
            }
        }
        for (; oc < out->c; ++oc) {
            const int8_t *w = filter + oc * k;
            const int32_t bias_c = bias ? bias[oc] : 0;
            out0[oc] = fn_requant_s8(fn_dot_1x1_s8_s16(w, col0, k) + bias_c, mult[oc], shifts[oc], out_off, act_min,
                                     act_max);
            if (ncols == 2) {
                out1[oc] = fn_requant_s8(fn_dot_1x1_s8_s16(w, col1, k) + bias_c, mult[oc], shifts[oc], out_off,
                                         act_min, act_max);
            }
        }
    }
}
#endif

fn_status fn_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                       const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                       const int32_t *bias, const fn_dims *out_dims, int8_t *output, void *scratch)
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
    if (filter_dims->c != in_dims->c || filter_dims->n != out_dims->c) {
        return FN_ERR_SHAPE; /* grouped convolution is not supported */
    }
#if FN_USE_DSP
    if (!scratch) {
        return FN_ERR_ARGUMENT;
    }
    conv_dsp(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, pad_h, pad_w,
             (int16_t *)scratch);
#else
    (void)scratch;
    conv_portable(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, pad_h, pad_w);
#endif
    return FN_OK;
}
