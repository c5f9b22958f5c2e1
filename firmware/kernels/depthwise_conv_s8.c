/* DEPTHWISE_CONV_2D int8 with channel multiplier (TFLM reference_integer_ops::DepthwiseConvPerChannel). */
#include "fn_internal.h"

void fn_dw_window_at(const fn_dims *in, const int8_t *input, const fn_dims *f, int32_t b, int32_t y0,
                     int32_t x0, fn_dw_window *win)
{
    win->ky0 = y0 < 0 ? -y0 : 0;
    win->ky1 = fn_min32(f->h, in->h - y0);
    win->kx0 = x0 < 0 ? -x0 : 0;
    win->kx1 = fn_min32(f->w, in->w - x0);
    /* Pointer arithmetic may step before the buffer for padded windows; keep it as an offset. */
    win->origin = input + ((b * in->h + (y0 + win->ky0)) * in->w + (x0 + win->kx0)) * in->c;
}

void fn_dw_channel_acc(const fn_dw_window *win, const fn_dims *in, const fn_dims *f, const int8_t *filter,
                       int32_t input_offset, int32_t ic, int32_t heads, int32_t *acc)
{
    const int32_t out_c = in->c * heads;
    for (int32_t m = 0; m < heads; ++m) {
        acc[m] = 0;
    }
    for (int32_t ky = win->ky0; ky < win->ky1; ++ky) {
        const int8_t *row = win->origin + ((ky - win->ky0) * in->w) * in->c + ic;
        const int8_t *wrow = filter + (ky * f->w) * out_c + ic * heads;
        for (int32_t kx = win->kx0; kx < win->kx1; ++kx) {
            const int32_t x = (int32_t)row[(kx - win->kx0) * in->c] + input_offset;
            const int8_t *w = wrow + kx * out_c;
            for (int32_t m = 0; m < heads; ++m) {
                acc[m] += (int32_t)w[m] * x;
            }
        }
    }
}

int32_t fn_depthwise_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    (void)in_dims;
    (void)filter_dims;
    return 0;
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
                           const fn_dims *out_dims, int8_t *output, int maxout)
{
    int32_t pad_h, pad_w;
    const int32_t heads = p ? p->depth_multiplier : 0;
    const int32_t out_c = in_dims ? (maxout ? in_dims->c : in_dims->c * heads) : 0;
    const fn_status status = fn_check_depthwise(p, q, in_dims, input, filter_dims, filter, out_dims, out_c, output,
                                                &pad_h, &pad_w);
    if (status != FN_OK) {
        return status;
    }
    int32_t acc[FN_MAX_HEADS];
    for (int32_t b = 0; b < out_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_dims->h; ++oy) {
            for (int32_t ox = 0; ox < out_dims->w; ++ox) {
                fn_dw_window win;
                fn_dw_window_at(in_dims, input, filter_dims, b, oy * p->stride_h - pad_h, ox * p->stride_w - pad_w,
                                &win);
                for (int32_t ic = 0; ic < in_dims->c; ++ic) {
                    fn_dw_channel_acc(&win, in_dims, filter_dims, filter, p->input_offset, ic, heads, acc);
                    int8_t best = FN_INT8_MIN;
                    for (int32_t m = 0; m < heads; ++m) {
                        const int32_t oc = ic * heads + m;
                        const int8_t v = fn_requant_s8(acc[m] + (bias ? bias[oc] : 0), q->multiplier[oc],
                                                       q->shift[oc], p->output_offset, p->act_min, p->act_max);
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
    (void)scratch;
    return fn_depthwise_run(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, 0);
}
