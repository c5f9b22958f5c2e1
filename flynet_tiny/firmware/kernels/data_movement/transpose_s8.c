/* TRANSPOSE int8 (TFLM reference_ops::Transpose): output axis i is input axis perm[i]. The output is
 * written in order; its innermost axis is copied as one block where it is the input's innermost too. */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_transpose_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *perm, int8_t *output)
{
    if (!input || !output || !perm) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(in_dims)) {
        return FN_ERR_SHAPE;
    }
    const int32_t in_size[4] = {in_dims->n, in_dims->h, in_dims->w, in_dims->c};
    const int32_t in_stride[4] = {in_dims->h * in_dims->w * in_dims->c, in_dims->w * in_dims->c, in_dims->c, 1};
    const int32_t axis[4] = {perm->n, perm->h, perm->w, perm->c};
    int32_t size[4], stride[4], seen = 0;
    for (int i = 0; i < 4; ++i) {
        if (axis[i] < 0 || axis[i] > 3 || (seen & (1 << axis[i]))) {
            return FN_ERR_ARGUMENT;
        }
        seen |= 1 << axis[i];
        size[i] = in_size[axis[i]];
        stride[i] = in_stride[axis[i]];
    }
    for (int32_t i0 = 0; i0 < size[0]; ++i0) {
        for (int32_t i1 = 0; i1 < size[1]; ++i1) {
            for (int32_t i2 = 0; i2 < size[2]; ++i2) {
                const int8_t *x = input + i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
                if (stride[3] == 1) {
                    memcpy(output, x, (size_t)size[3]);
                } else {
                    for (int32_t i3 = 0; i3 < size[3]; ++i3) {
                        output[i3] = x[i3 * stride[3]];
                    }
                }
                output += size[3];
            }
        }
    }
    return FN_OK;
}
