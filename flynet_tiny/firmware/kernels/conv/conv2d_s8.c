/* CONV_2D int8 with per-channel requantization (TFLM reference_integer_ops::ConvPerChannel).
 *
 * Portable path: direct loops, with a bounds-check-free loop for 1x1 kernels. The DSP build takes
 * the im2col block path of conv2d_s8_dsp.h instead. Integer sums are exact, so both paths give
 * identical bytes.
 */
#include "../support/fn_internal.h"
#include "conv2d_s8_dsp.h"

int32_t fn_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
#if FN_USE_DSP
    const int32_t block = block_path_bytes(filter_dims);
    /* 1x1 filters may take the tiled path (conv2d_1x1_s8_dsp.c); its pixels left over use the block. */
    if (filter_dims->h == 1 && filter_dims->w == 1) {
        return fn_max32(block, fn_conv1x1_scratch_bytes(in_dims));
    }
    return block;
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
        const int32_t iy = y0 + ky * p->dilation_h;
        if (iy < 0 || iy >= in->h) {
            continue;
        }
        for (int32_t kx = 0; kx < f->w; ++kx) {
            const int32_t ix = x0 + kx * p->dilation_w;
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
