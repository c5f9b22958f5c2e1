/* PAD int8: the output filled with pad_value, then the input copied in (the quantization is unchanged). */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_pad_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *before, int8_t pad_value,
                    const fn_dims *out_dims, int8_t *output)
{
    if (!input || !output || !before) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(in_dims) || !fn_dims_valid(out_dims) || before->n < 0 || before->h < 0 || before->w < 0 ||
        before->c < 0 || before->n + in_dims->n > out_dims->n || before->h + in_dims->h > out_dims->h ||
        before->w + in_dims->w > out_dims->w || before->c + in_dims->c > out_dims->c) {
        return FN_ERR_SHAPE;
    }
    memset(output, pad_value, (size_t)fn_dims_count(out_dims));
    for (int32_t n = 0; n < in_dims->n; ++n) {
        for (int32_t h = 0; h < in_dims->h; ++h) {
            for (int32_t w = 0; w < in_dims->w; ++w) {
                int8_t *dst = output + (((before->n + n) * out_dims->h + before->h + h) * out_dims->w + before->w + w) *
                                           out_dims->c + before->c;
                memcpy(dst, input + ((n * in_dims->h + h) * in_dims->w + w) * in_dims->c, (size_t)in_dims->c);
            }
        }
    }
    return FN_OK;
}
