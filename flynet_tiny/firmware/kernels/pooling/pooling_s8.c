/* AVERAGE_POOL_2D and MAX_POOL_2D int8 (TFLM reference_integer_ops pooling), any filter, stride and
 * padding (global pools included): padded taps are left out of the window, averages round half away from
 * zero. The DSP build takes 4 channels per step (pooling_s8_dsp.h). */
#include "../support/fn_internal.h"
#include "pooling_s8_dsp.h"

static fn_status check_pool(const fn_pool_params *p, const fn_dims *in, const int8_t *input, const fn_dims *out,
                            const int8_t *output, int32_t *pad_h, int32_t *pad_w)
{
    if (!p || !input || !output) {
        return FN_ERR_ARGUMENT;
    }
    const fn_conv_params geometry = {.stride_h = p->stride_h, .stride_w = p->stride_w, .dilation_h = 1,
                                     .dilation_w = 1, .padding = p->padding, .act_min = p->act_min,
                                     .act_max = p->act_max, .depth_multiplier = 1};
    if (p->filter_h < 1 || p->filter_w < 1) {
        return FN_ERR_SHAPE;
    }
    const fn_status status = fn_check_conv_geometry(&geometry, in, p->filter_h, p->filter_w, out, pad_h, pad_w);
    if (status != FN_OK) {
        return status;
    }
    return out->c == in->c ? FN_OK : FN_ERR_SHAPE;
}

static fn_status pool(const fn_pool_params *p, const fn_dims *in, const int8_t *input, const fn_dims *out,
                      int8_t *output, int average)
{
    int32_t pad_h, pad_w;
    const fn_status status = check_pool(p, in, input, out, output, &pad_h, &pad_w);
    if (status != FN_OK) {
        return status;
    }
#if FN_USE_DSP
    const uint32_t lo4 = fn_lanes(p->act_min), hi4 = fn_lanes(p->act_max);
    const int clamp = p->act_min > FN_INT8_MIN || p->act_max < FN_INT8_MAX;
#endif
    for (int32_t b = 0; b < out->n; ++b) {
        for (int32_t oy = 0; oy < out->h; ++oy) {
            const int32_t y0 = oy * p->stride_h - pad_h;
            const int32_t ky0 = fn_max32(0, -y0), ky1 = fn_min32(p->filter_h, in->h - y0);
            for (int32_t ox = 0; ox < out->w; ++ox) {
                const int32_t x0 = ox * p->stride_w - pad_w;
                const int32_t kx0 = fn_max32(0, -x0), kx1 = fn_min32(p->filter_w, in->w - x0);
                const int32_t count = (ky1 - ky0) * (kx1 - kx0);
                int32_t c = 0;
#if FN_USE_DSP
                const int8_t *window = input + ((b * in->h + y0 + ky0) * in->w + x0 + kx0) * in->c;
                c = pool_pixel_dsp(window, in->c, ky1 - ky0, kx1 - kx0, in->w * in->c, count, lo4, hi4, clamp, average,
                                   output);
                output += c;
#endif
                for (; c < out->c; ++c) {
                    int32_t acc = average ? 0 : FN_INT8_MIN;
                    for (int32_t ky = ky0; ky < ky1; ++ky) {
                        const int8_t *row = input + ((b * in->h + y0 + ky) * in->w + x0) * in->c + c;
                        for (int32_t kx = kx0; kx < kx1; ++kx) {
                            const int32_t v = row[kx * in->c];
                            acc = average ? acc + v : fn_max32(acc, v);
                        }
                    }
                    if (average) {
                        if (count <= 0) {
                            return FN_ERR_SHAPE;
                        }
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    *output++ = (int8_t)fn_clamp32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return FN_OK;
}

fn_status fn_avgpool_s8(const fn_pool_params *p, const fn_dims *in_dims, const int8_t *input, const fn_dims *out_dims,
                        int8_t *output)
{
    return pool(p, in_dims, input, out_dims, output, 1);
}

fn_status fn_maxpool_s8(const fn_pool_params *p, const fn_dims *in_dims, const int8_t *input, const fn_dims *out_dims,
                        int8_t *output)
{
    return pool(p, in_dims, input, out_dims, output, 0);
}
