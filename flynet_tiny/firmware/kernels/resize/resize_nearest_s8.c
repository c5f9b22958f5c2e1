/* RESIZE_NEAREST_NEIGHBOR int8 (TFLM reference_ops::ResizeNearestNeighbor): each output pixel is the
 * input pixel at (rows[y], cols[x]). TFLM finds those in float32 (align_corners, half_pixel_centers);
 * the code generator computes the same indices at build time, so the kernel only copies pixels, and an
 * output row equal to the one above is copied from it. */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_resize_nearest_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *out_dims,
                               const int32_t *rows, const int32_t *cols, int8_t *output)
{
    if (!input || !output || !rows || !cols) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(in_dims) || !fn_dims_valid(out_dims) || in_dims->n != out_dims->n || in_dims->c != out_dims->c) {
        return FN_ERR_SHAPE;
    }
    for (int32_t y = 0; y < out_dims->h; ++y) {
        if (rows[y] < 0 || rows[y] >= in_dims->h) {
            return FN_ERR_ARGUMENT;
        }
    }
    for (int32_t x = 0; x < out_dims->w; ++x) {
        if (cols[x] < 0 || cols[x] >= in_dims->w) {
            return FN_ERR_ARGUMENT;
        }
    }
    const int32_t depth = in_dims->c;
    const size_t row_bytes = (size_t)out_dims->w * (size_t)depth;
    for (int32_t b = 0; b < out_dims->n; ++b) {
        const int8_t *image = input + b * in_dims->h * in_dims->w * depth;
        for (int32_t y = 0; y < out_dims->h; ++y) {
            if (y > 0 && rows[y] == rows[y - 1]) {
                memcpy(output, output - row_bytes, row_bytes);
                output += row_bytes;
                continue;
            }
            const int8_t *row = image + rows[y] * in_dims->w * depth;
            for (int32_t x = 0; x < out_dims->w; ++x) {
                memcpy(output, row + cols[x] * depth, (size_t)depth);
                output += depth;
            }
        }
    }
    return FN_OK;
}
