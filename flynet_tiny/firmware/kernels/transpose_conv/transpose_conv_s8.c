/* TRANSPOSE_CONV int8 with per-channel requantization (TFLM reference_integer_ops::TransposeConv).
 *
 * TFLM scatters each input pixel times the filter into an int32 map of the whole output, then
 * requantizes it. Here each output pixel gathers the same products instead: output row oy receives
 * filter row ky from input row iy where iy * stride_h - pad_h + ky == oy, and likewise for columns.
 * Integer sums do not depend on their order, so the bytes are TFLM's, and neither the int32 map
 * (4 bytes per output value) nor any other scratch is needed. The DSP build runs the dot products of
 * 2 output channels at a time with SMLAD (transpose_conv_s8_dsp.h).
 */
#include "../support/fn_internal.h"

/* The taps of one output pixel: filter row / column k meets input row / column (o + pad - k) / stride
 * where that divides and lands on the input. */
#define FN_TCONV_MAX_TAPS 32 /* filter taps per axis (the tap lists live on the stack: 2 x 260 bytes) */
typedef struct {
    int32_t count;
    int32_t filter[FN_TCONV_MAX_TAPS]; /* filter rows (columns) */
    int32_t input[FN_TCONV_MAX_TAPS];  /* the input rows (columns) they meet */
} tconv_taps;

static void taps_of(int32_t o, int32_t pad, int32_t stride, int32_t filter, int32_t in_size, tconv_taps *t)
{
    t->count = 0;
    const int32_t shifted = o + pad; /* >= 0: pads are never negative */
    for (int32_t k = shifted % stride; k < filter && k <= shifted; k += stride) {
        const int32_t i = (shifted - k) / stride;
        if (i < in_size) {
            t->filter[t->count] = k;
            t->input[t->count] = i;
            ++t->count;
        }
    }
}

#include "transpose_conv_s8_dsp.h"

int32_t fn_transpose_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    (void)in_dims;
    (void)filter_dims;
    return 0; /* gathered per output pixel: no int32 output map */
}

#if !FN_USE_DSP
/* One output pixel, all output channels: sum over the taps and input channels of (x + offset) * w. */
static int8_t *tconv_pixel(const fn_conv_params *p, const fn_channel_quant *q, const int8_t *image, const fn_dims *in,
                           const int8_t *filter, int32_t fh, int32_t fw, const int32_t *bias, int32_t out_c,
                           const tconv_taps *rows, const tconv_taps *cols, int8_t *out)
{
    const int32_t in_c = in->c, offset = p->input_offset;
    for (int32_t oc = 0; oc < out_c; ++oc) {
        int32_t acc = bias ? bias[oc] : 0;
        for (int32_t r = 0; r < rows->count; ++r) {
            const int8_t *x_row = image + rows->input[r] * in->w * in_c;
            const int8_t *w_row = filter + (oc * fh + rows->filter[r]) * fw * in_c;
            for (int32_t s = 0; s < cols->count; ++s) {
                const int8_t *x = x_row + cols->input[s] * in_c, *w = w_row + cols->filter[s] * in_c;
                for (int32_t c = 0; c < in_c; ++c) {
                    acc += ((int32_t)x[c] + offset) * (int32_t)w[c];
                }
            }
        }
        *out++ = fn_requant_s8(acc, q->multiplier[oc], q->shift[oc], p->output_offset, p->act_min, p->act_max);
    }
    return out;
}
#endif

fn_status fn_transpose_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                                 const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const fn_dims *out_dims, int8_t *output, void *scratch)
{
    (void)scratch;
    if (!p || !q || !input || !filter || !output || !filter_dims || !q->multiplier || !q->shift) {
        return FN_ERR_ARGUMENT;
    }
    if (p->stride_h < 1 || p->stride_w < 1 || p->act_min > p->act_max || p->act_min < FN_INT8_MIN ||
        p->act_max > FN_INT8_MAX) {
        return FN_ERR_ARGUMENT;
    }
    if (p->dilation_h != 1 || p->dilation_w != 1 ||
        (p->padding != FN_PADDING_SAME && p->padding != FN_PADDING_VALID)) {
        return FN_ERR_UNSUPPORTED;
    }
    if (!fn_dims_valid(in_dims) || !fn_dims_valid(filter_dims) || !fn_dims_valid(out_dims) ||
        filter_dims->c != in_dims->c || filter_dims->n != out_dims->c || out_dims->n != in_dims->n) {
        return FN_ERR_SHAPE;
    }
    const int32_t fh = filter_dims->h, fw = filter_dims->w;
    if (fh > FN_TCONV_MAX_TAPS || fw > FN_TCONV_MAX_TAPS) {
        return FN_ERR_UNSUPPORTED;
    }
    /* TFLM's padding: that of a conv from the output's size back to the input's (ComputePaddingHeightWidth
     * with the output's height and width as the input's). */
    const int32_t pad_h = fn_leading_padding(out_dims->h, fh, p->stride_h,
                                             fn_output_size(p->padding, out_dims->h, fh, p->stride_h));
    const int32_t pad_w = fn_leading_padding(out_dims->w, fw, p->stride_w,
                                             fn_output_size(p->padding, out_dims->w, fw, p->stride_w));
    tconv_taps rows, cols;
    for (int32_t b = 0; b < out_dims->n; ++b) {
        const int8_t *image = input + b * in_dims->h * in_dims->w * in_dims->c;
        for (int32_t oy = 0; oy < out_dims->h; ++oy) {
            taps_of(oy, pad_h, p->stride_h, fh, in_dims->h, &rows);
            for (int32_t ox = 0; ox < out_dims->w; ++ox) {
                taps_of(ox, pad_w, p->stride_w, fw, in_dims->w, &cols);
                output = tconv_pixel(p, q, image, in_dims, filter, fh, fw, bias, out_dims->c, &rows, &cols, output);
            }
        }
    }
    return FN_OK;
}
