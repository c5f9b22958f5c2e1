/* CONCATENATION, SLICE and PAD on int8 tensors whose quantization is unchanged
 * (TFLM requires equal scale and zero point for int8 concatenation): copies. */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_concat_s8(int32_t count, const int8_t *const *inputs, const int32_t *axis_sizes, int32_t outer,
                       int32_t inner, int8_t *output)
{
    if (!inputs || !axis_sizes || !output || count < 1) {
        return FN_ERR_ARGUMENT;
    }
    if (outer < 1 || inner < 1) {
        return FN_ERR_SHAPE;
    }
    for (int32_t i = 0; i < count; ++i) {
        if (!inputs[i] || axis_sizes[i] < 1) {
            return FN_ERR_ARGUMENT;
        }
    }
    for (int32_t o = 0; o < outer; ++o) {
        for (int32_t i = 0; i < count; ++i) {
            const int32_t chunk = axis_sizes[i] * inner;
            memcpy(output, inputs[i] + o * chunk, (size_t)chunk);
            output += chunk;
        }
    }
    return FN_OK;
}

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
