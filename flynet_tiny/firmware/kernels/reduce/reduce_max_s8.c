/* REDUCE_MAX int8 over any axes (TFLM reference_ops::ReduceGeneric with max): the raw maximum; TFLM
 * requires the input's quantization on the output. */
#include "reduce_internal.h"

fn_status fn_reduce_max_s8(const fn_dims *in_dims, const fn_dims *reduced, const int8_t *input, int8_t *output)
{
    if (!input || !output) {
        return FN_ERR_ARGUMENT;
    }
    reduce_walk walk;
    const fn_status status = reduce_walk_make(in_dims, reduced, &walk);
    if (status != FN_OK) {
        return status;
    }
    for (int32_t k0 = 0; k0 < walk.kept_size[0]; ++k0) {
        for (int32_t k1 = 0; k1 < walk.kept_size[1]; ++k1) {
            const int8_t *base = input + k0 * walk.kept_stride[0] + k1 * walk.kept_stride[1];
            int32_t max = FN_INT8_MIN;
            for (int32_t r0 = 0; r0 < walk.reduced_size[0]; ++r0) {
                const int8_t *x = base + r0 * walk.reduced_stride[0];
                for (int32_t r1 = 0; r1 < walk.reduced_size[1]; ++r1) {
                    max = fn_max32(max, x[r1 * walk.reduced_stride[1]]);
                }
            }
            *output++ = (int8_t)max;
        }
    }
    return FN_OK;
}
