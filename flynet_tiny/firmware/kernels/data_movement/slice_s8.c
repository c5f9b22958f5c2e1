/* SLICE int8: a copy of the slice (the quantization is unchanged). */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_slice_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *begin, const fn_dims *out_dims,
                      int8_t *output)
{
    if (!input || !output || !begin) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(in_dims) || !fn_dims_valid(out_dims) || begin->n < 0 || begin->h < 0 || begin->w < 0 ||
        begin->c < 0 || begin->n + out_dims->n > in_dims->n || begin->h + out_dims->h > in_dims->h ||
        begin->w + out_dims->w > in_dims->w || begin->c + out_dims->c > in_dims->c) {
        return FN_ERR_SHAPE;
    }
    for (int32_t n = 0; n < out_dims->n; ++n) {
        for (int32_t h = 0; h < out_dims->h; ++h) {
            for (int32_t w = 0; w < out_dims->w; ++w) {
                const int8_t *src = input + (((begin->n + n) * in_dims->h + begin->h + h) * in_dims->w + begin->w + w) *
                                                in_dims->c + begin->c;
                memcpy(output, src, (size_t)out_dims->c);
                output += out_dims->c;
            }
        }
    }
    return FN_OK;
}
