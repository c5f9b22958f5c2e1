/* MEAN over H and W, keep_dims (TFLM reference_integer_ops::Mean): the sum of
 * (x - zp) is requantized by in_scale/out_scale, then divided by H*W rounding
 * half away from zero. */
#include "fn_internal.h"

int8_t fn_mean_finish(const fn_mean_params *p, int32_t acc, int32_t count)
{
    acc = fn_mbqm(acc, p->multiplier, p->shift);
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)fn_clamp32(acc + p->output_zero_point, FN_INT8_MIN, FN_INT8_MAX);
}

int8_t fn_mean_channel(const fn_mean_params *p, const int8_t *x, int32_t count, int32_t stride)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < count; ++i) {
        acc += (int32_t)x[i * stride] - p->input_zero_point;
    }
    return fn_mean_finish(p, acc, count);
}

fn_status fn_mean_hw_s8(const fn_mean_params *p, const fn_dims *in_dims, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(in_dims)) {
        return FN_ERR_SHAPE;
    }
    const int32_t count = in_dims->h * in_dims->w;
    for (int32_t b = 0; b < in_dims->n; ++b) {
        const int8_t *x = input + b * count * in_dims->c;
        for (int32_t c = 0; c < in_dims->c; ++c) {
            *output++ = fn_mean_channel(p, x + c, count, in_dims->c);
        }
    }
    return FN_OK;
}
