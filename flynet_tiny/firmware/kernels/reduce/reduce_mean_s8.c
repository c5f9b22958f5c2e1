/* MEAN int8 over any axes (TFLM reference_ops::QuantizedMeanOrSum, which every int8 MEAN takes): the
 * sum of the reduced elements minus zero_point * count, requantized once by (input_scale /
 * output_scale) / count with the division folded into the multiplier (fn_mean_prepare). */
#include "reduce_internal.h"

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

fn_status fn_mean_s8(const fn_mean_params *p, const fn_dims *in_dims, const fn_dims *reduced, const int8_t *input,
                     int8_t *output)
{
    if (!p || !input || !output) {
        return FN_ERR_ARGUMENT;
    }
    reduce_walk walk;
    const fn_status status = reduce_walk_make(in_dims, reduced, &walk);
    if (status != FN_OK) {
        return status;
    }
    int32_t multiplier, shift;
    fn_mean_prepare(p, walk.count, &multiplier, &shift);
    const int32_t zero_sum = p->input_zero_point * walk.count;
    for (int32_t k0 = 0; k0 < walk.kept_size[0]; ++k0) {
        for (int32_t k1 = 0; k1 < walk.kept_size[1]; ++k1) {
            const int8_t *base = input + k0 * walk.kept_stride[0] + k1 * walk.kept_stride[1];
            int32_t sum = 0;
            for (int32_t r0 = 0; r0 < walk.reduced_size[0]; ++r0) {
                const int8_t *x = base + r0 * walk.reduced_stride[0];
                for (int32_t r1 = 0; r1 < walk.reduced_size[1]; ++r1) {
                    sum += x[r1 * walk.reduced_stride[1]];
                }
            }
            *output++ = fn_mean_finish(p, sum - zero_sum, multiplier, shift);
        }
    }
    return FN_OK;
}
