/* RESIZE_BILINEAR int8 (TFLM reference_ops::ResizeBilinearInteger): each output value is the four
 * nearest inputs weighted in 1/1024 steps per axis, the sum (2^20 per unit) rounded half away from
 * zero. The code generator computes TFLM's integer sample positions: per output row (and column) the
 * lower and upper input row and the upper one's weight, rows[3 y + 0..2]. That weight is negative
 * where half-pixel centres fall before the first row; TFLM's arithmetic then still sums to the input
 * (both rows are row 0), and the kernel's does the same. Computed per axis, (top * (1024 - dy) +
 * bottom * dy with top = x0 * (1024 - dx) + x1 * dx) equals TFLM's sum of four products exactly and
 * stays below 2^30. */
#include "../support/fn_internal.h"

static fn_status check_samples(const int32_t *samples, int32_t count, int32_t limit)
{
    for (int32_t i = 0; i < count; ++i) {
        const int32_t *s = samples + 3 * i;
        if (s[0] < 0 || s[0] >= limit || s[1] < 0 || s[1] >= limit || s[2] <= -1024 || s[2] >= 1024) {
            return FN_ERR_ARGUMENT;
        }
    }
    return FN_OK;
}

fn_status fn_resize_bilinear_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *out_dims,
                                const int32_t *rows, const int32_t *cols, int8_t *output)
{
    if (!input || !output || !rows || !cols) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(in_dims) || !fn_dims_valid(out_dims) || in_dims->n != out_dims->n || in_dims->c != out_dims->c) {
        return FN_ERR_SHAPE;
    }
    if (check_samples(rows, out_dims->h, in_dims->h) != FN_OK || check_samples(cols, out_dims->w, in_dims->w) != FN_OK) {
        return FN_ERR_ARGUMENT;
    }
    const int32_t depth = in_dims->c, pitch = in_dims->w * depth;
    for (int32_t b = 0; b < out_dims->n; ++b) {
        const int8_t *image = input + b * in_dims->h * pitch;
        for (int32_t y = 0; y < out_dims->h; ++y) {
            const int8_t *top = image + rows[3 * y] * pitch, *bottom = image + rows[3 * y + 1] * pitch;
            const int32_t dy = rows[3 * y + 2];
            for (int32_t x = 0; x < out_dims->w; ++x) {
                const int32_t left = cols[3 * x] * depth, right = cols[3 * x + 1] * depth, dx = cols[3 * x + 2];
                for (int32_t c = 0; c < depth; ++c) {
                    const int32_t upper = top[left + c] * (1024 - dx) + top[right + c] * dx;
                    const int32_t lower = bottom[left + c] * (1024 - dx) + bottom[right + c] * dx;
                    const int32_t sum = upper * (1024 - dy) + lower * dy;
                    const int32_t half = sum > 0 ? (1 << 19) : -(1 << 19);
                    *output++ = (int8_t)((sum + half) / (1 << 20));
                }
            }
        }
    }
    return FN_OK;
}
