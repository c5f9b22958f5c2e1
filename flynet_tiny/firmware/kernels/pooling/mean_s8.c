/* MEAN over H and W, keep_dims (TFLM reference_integer_ops::Mean): the sum of
 * (x - zp) is requantized once by (in_scale / out_scale) / (H*W), the division
 * folded into the multiplier the way TFLM folds it (up to 32 bits of headroom). */
#include "../support/fn_internal.h"

static int32_t floor_log2(uint32_t x)
{
    int32_t n = -1;
    while (x) {
        x >>= 1;
        ++n;
    }
    return n;
}

void fn_mean_prepare(const fn_mean_params *p, int32_t count, int32_t *multiplier, int32_t *shift)
{
    int32_t headroom = fn_min32(floor_log2((uint32_t)count), 32);
    headroom = fn_min32(headroom, 31 + p->shift);
    *multiplier = (int32_t)(((int64_t)p->multiplier << headroom) / count);
    *shift = p->shift - headroom;
}

int8_t fn_mean_finish(const fn_mean_params *p, int32_t acc, int32_t multiplier, int32_t shift)
{
    acc = fn_mbqm(acc, multiplier, shift);
    return (int8_t)fn_clamp32(acc + p->output_zero_point, FN_INT8_MIN, FN_INT8_MAX);
}

int8_t fn_mean_channel(const fn_mean_params *p, const int8_t *x, int32_t count, int32_t stride)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < count; ++i) {
        acc += (int32_t)x[i * stride] - p->input_zero_point;
    }
    int32_t multiplier, shift;
    fn_mean_prepare(p, count, &multiplier, &shift);
    return fn_mean_finish(p, acc, multiplier, shift);
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
