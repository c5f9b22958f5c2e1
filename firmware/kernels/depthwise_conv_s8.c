/* DEPTHWISE_CONV_2D int8 with channel multiplier (TFLM reference_integer_ops::DepthwiseConvPerChannel). */
#include "fn_internal.h"

/* acc[j] += w[j] * (x[j / heads] + input_offset) for the C*heads channels of one tap. */
static void accumulate_tap(const int8_t *x, const int8_t *w, int32_t channels, int32_t heads, int32_t input_offset,
                           int32_t *acc)
{
    int32_t c = 0;
    if (heads == 1) {
#if FN_USE_DSP
        const int32_t offset2 = (int32_t)(((uint32_t)(uint16_t)input_offset << 16) | (uint16_t)input_offset);
        for (; c + 4 <= channels; c += 4) {
            const uint32_t xv = fn_read_u32(x + c);
            const uint32_t wv = fn_read_u32(w + c);
            const int32_t x_even = __sadd16(__sxtb16((int32_t)xv), offset2);
            const int32_t x_odd = __sadd16(__sxtb16((int32_t)fn_ror8(xv)), offset2);
            const int32_t w_even = __sxtb16((int32_t)wv), w_odd = __sxtb16((int32_t)fn_ror8(wv));
            acc[c] = __smlabb(w_even, x_even, acc[c]);
            acc[c + 1] = __smlabb(w_odd, x_odd, acc[c + 1]);
            acc[c + 2] = __smlatt(w_even, x_even, acc[c + 2]);
            acc[c + 3] = __smlatt(w_odd, x_odd, acc[c + 3]);
        }
#endif
        for (; c < channels; ++c) {
            acc[c] += (int32_t)w[c] * ((int32_t)x[c] + input_offset);
        }
        return;
    }
    for (; c < channels; ++c) {
        const int32_t xv = (int32_t)x[c] + input_offset;
        const int8_t *wc = w + c * heads;
        int32_t *ac = acc + c * heads;
        for (int32_t m = 0; m < heads; ++m) {
            ac[m] += (int32_t)wc[m] * xv;
        }
    }
}

int32_t fn_depthwise_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    (void)in_dims;
    return filter_dims->c * (int32_t)sizeof(int32_t); /* one output pixel's accumulators */
}

/* Checks shared by depthwise and MDW; `out_c` is the expected output channel count. */
fn_status fn_check_depthwise(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                             const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                             const fn_dims *out_dims, int32_t out_c, const int8_t *output, int32_t *pad_h,
                             int32_t *pad_w)
{
    if (!p || !q || !input || !filter || !output || !filter_dims || !q->multiplier || !q->shift) {
        return FN_ERR_ARGUMENT;
    }
    if (p->depth_multiplier < 1 || p->depth_multiplier > FN_MAX_HEADS) {
        return FN_ERR_UNSUPPORTED;
    }
    const fn_status status = fn_check_conv_geometry(p, in_dims, filter_dims->h, filter_dims->w, out_dims,
                                                    pad_h, pad_w);
    if (status != FN_OK) {
        return status;
    }
    if (filter_dims->n != 1 || filter_dims->c != in_dims->c * p->depth_multiplier || out_dims->c != out_c) {
        return FN_ERR_SHAPE;
    }
    return FN_OK;
}

fn_status fn_depthwise_run(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                           const int8_t *input, const fn_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                           const fn_dims *out_dims, int8_t *output, int32_t *acc, int maxout)
{
    int32_t pad_h, pad_w;
    const int32_t heads = p ? p->depth_multiplier : 0;
    const int32_t out_c = in_dims ? (maxout ? in_dims->c : in_dims->c * heads) : 0;
    const fn_status status = fn_check_depthwise(p, q, in_dims, input, filter_dims, filter, out_dims, out_c, output,
                                                &pad_h, &pad_w);
    if (status != FN_OK) {
        return status;
    }
    if (!acc) {
        return FN_ERR_ARGUMENT;
    }
    const int32_t channels = in_dims->c;
    const int32_t total = channels * heads;
    /* Locals, so int8 stores cannot force the parameters to be reloaded (char aliasing). */
    const int32_t *const mult = q->multiplier, *const shifts = q->shift;
    const int32_t out_off = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t input_offset = p->input_offset;
    for (int32_t b = 0; b < out_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_dims->h; ++oy) {
            const int32_t y0 = oy * p->stride_h - pad_h;
            const int32_t ky0 = fn_max32(0, -y0), ky1 = fn_min32(filter_dims->h, in_dims->h - y0);
            for (int32_t ox = 0; ox < out_dims->w; ++ox) {
                const int32_t x0 = ox * p->stride_w - pad_w;
                const int32_t kx0 = fn_max32(0, -x0), kx1 = fn_min32(filter_dims->w, in_dims->w - x0);
                for (int32_t j = 0; j < total; ++j) {
                    acc[j] = bias ? bias[j] : 0;
                }
                for (int32_t ky = ky0; ky < ky1; ++ky) {
                    for (int32_t kx = kx0; kx < kx1; ++kx) {
                        const int8_t *x = input + ((b * in_dims->h + y0 + ky) * in_dims->w + x0 + kx) * channels;
                        const int8_t *w = filter + (ky * filter_dims->w + kx) * total;
                        accumulate_tap(x, w, channels, heads, input_offset, acc);
                    }
                }
                for (int32_t ic = 0; ic < channels; ++ic) {
                    int8_t best = FN_INT8_MIN;
                    for (int32_t m = 0; m < heads; ++m) {
                        const int32_t oc = ic * heads + m;
                        const int8_t v = fn_requant_s8(acc[oc], mult[oc], shifts[oc], out_off, act_min, act_max);
                        if (maxout) {
                            best = v > best ? v : best;
                        } else {
                            *output++ = v;
                        }
                    }
                    if (maxout) {
                        *output++ = best;
                    }
                }
            }
        }
    }
    return FN_OK;
}

fn_status fn_depthwise_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                                 const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const fn_dims *out_dims, int8_t *output, void *scratch)
{
    return fn_depthwise_run(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, (int32_t *)scratch, 0);
}
