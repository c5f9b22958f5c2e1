/* STRIDED_SLICE int8 (TFLM reference_ops::StridedSlice, its begin / end / masks resolved by the code
 * generator): out[i] = in[begin + i * stride] on each axis, strides of either sign. */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_strided_slice_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *begin,
                              const fn_dims *strides, const fn_dims *out_dims, int8_t *output)
{
    if (!input || !output || !begin || !strides) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(in_dims) || !fn_dims_valid(out_dims)) {
        return FN_ERR_SHAPE;
    }
    const int32_t in_size[4] = {in_dims->n, in_dims->h, in_dims->w, in_dims->c};
    const int32_t out_size[4] = {out_dims->n, out_dims->h, out_dims->w, out_dims->c};
    const int32_t first[4] = {begin->n, begin->h, begin->w, begin->c};
    const int32_t step[4] = {strides->n, strides->h, strides->w, strides->c};
    const int32_t in_stride[4] = {in_dims->h * in_dims->w * in_dims->c, in_dims->w * in_dims->c, in_dims->c, 1};
    int32_t offset = 0, stride[4];
    for (int i = 0; i < 4; ++i) {
        const int32_t last = first[i] + (out_size[i] - 1) * step[i];
        if (step[i] == 0 || first[i] < 0 || first[i] >= in_size[i] || last < 0 || last >= in_size[i]) {
            return FN_ERR_SHAPE;
        }
        offset += first[i] * in_stride[i];
        stride[i] = step[i] * in_stride[i];
    }
    input += offset;
    for (int32_t i0 = 0; i0 < out_size[0]; ++i0) {
        for (int32_t i1 = 0; i1 < out_size[1]; ++i1) {
            for (int32_t i2 = 0; i2 < out_size[2]; ++i2) {
                const int8_t *x = input + i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
                if (stride[3] == 1) {
                    memcpy(output, x, (size_t)out_size[3]);
                } else {
                    for (int32_t i3 = 0; i3 < out_size[3]; ++i3) {
                        output[i3] = x[i3 * stride[3]];
                    }
                }
                output += out_size[3];
            }
        }
    }
    return FN_OK;
}
