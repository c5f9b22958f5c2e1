/* Shape and geometry helpers shared by all kernels. */
#include "fn_internal.h"

const char *fn_status_name(fn_status status)
{
    switch (status) {
    case FN_OK: return "FN_OK";
    case FN_ERR_UNSUPPORTED: return "FN_ERR_UNSUPPORTED";
    case FN_ERR_SHAPE: return "FN_ERR_SHAPE";
    case FN_ERR_ARGUMENT: return "FN_ERR_ARGUMENT";
    }
    return "FN_ERR_UNKNOWN";
}

int32_t fn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    return fn_mbqm(x, multiplier, shift);
}

int32_t fn_output_size(fn_padding padding, int32_t in, int32_t filter, int32_t stride)
{
    if (padding == FN_PADDING_SAME) {
        return (in + stride - 1) / stride;
    }
    return (in + stride - filter) / stride;
}

int32_t fn_leading_padding(int32_t in, int32_t filter, int32_t stride, int32_t out)
{
    const int32_t total = (out - 1) * stride + filter - in;
    return total > 0 ? total / 2 : 0;
}

int fn_dims_valid(const fn_dims *d)
{
    return d != 0 && d->n > 0 && d->h > 0 && d->w > 0 && d->c > 0;
}

int32_t fn_dims_count(const fn_dims *d)
{
    return d->n * d->h * d->w * d->c;
}

int32_t fn_dilated_size(int32_t filter, int32_t dilation)
{
    return (filter - 1) * dilation + 1;
}

fn_status fn_check_conv_geometry(const fn_conv_params *p, const fn_dims *in, int32_t filter_h,
                                 int32_t filter_w, const fn_dims *out, int32_t *pad_h, int32_t *pad_w)
{
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1) {
        return FN_ERR_ARGUMENT;
    }
    if (p->padding != FN_PADDING_SAME && p->padding != FN_PADDING_VALID && p->padding != FN_PADDING_EXPLICIT) {
        return FN_ERR_UNSUPPORTED;
    }
    if (!fn_dims_valid(in) || !fn_dims_valid(out) || filter_h < 1 || filter_w < 1) {
        return FN_ERR_SHAPE;
    }
    /* A dilated filter spans (k - 1) * d + 1 input rows / columns (TFLM's effective filter size). */
    const int32_t span_h = fn_dilated_size(filter_h, p->dilation_h), span_w = fn_dilated_size(filter_w, p->dilation_w);
    const int explicit_pads = p->padding == FN_PADDING_EXPLICIT;
    /* Explicit pads below the filter's span keep every undilated window on at least one real row and
     * column, which the fast paths' tap clipping (and their 1x1 paths, pads 0) rely on; the general
     * paths take windows that hold no real tap (dilated filters) too. */
    if (explicit_pads && (p->pad_top < 0 || p->pad_top >= span_h || p->pad_bottom < 0 || p->pad_bottom >= span_h ||
                          p->pad_left < 0 || p->pad_left >= span_w || p->pad_right < 0 || p->pad_right >= span_w)) {
        return FN_ERR_UNSUPPORTED;
    }
    /* Explicit padding is a VALID convolution of the padded map. */
    const fn_padding sizing = explicit_pads ? FN_PADDING_VALID : p->padding;
    const int32_t padded_h = explicit_pads ? in->h + p->pad_top + p->pad_bottom : in->h;
    const int32_t padded_w = explicit_pads ? in->w + p->pad_left + p->pad_right : in->w;
    const int32_t out_h = fn_output_size(sizing, padded_h, span_h, p->stride_h);
    const int32_t out_w = fn_output_size(sizing, padded_w, span_w, p->stride_w);
    if (out_h < 1 || out_w < 1 || out->h != out_h || out->w != out_w || out->n != in->n) {
        return FN_ERR_SHAPE;
    }
    if (p->act_min > p->act_max || p->act_min < FN_INT8_MIN || p->act_max > FN_INT8_MAX) {
        return FN_ERR_ARGUMENT;
    }
    *pad_h = explicit_pads ? p->pad_top : fn_leading_padding(in->h, span_h, p->stride_h, out_h);
    *pad_w = explicit_pads ? p->pad_left : fn_leading_padding(in->w, span_w, p->stride_w, out_w);
    return FN_OK;
}

fn_status fn_broadcast_strides(const fn_dims *in, const fn_dims *out, int32_t strides[4])
{
    const int32_t in_d[4] = {in->n, in->h, in->w, in->c};
    const int32_t out_d[4] = {out->n, out->h, out->w, out->c};
    int32_t stride = 1;
    for (int i = 3; i >= 0; --i) {
        if (in_d[i] != out_d[i] && in_d[i] != 1) {
            return FN_ERR_SHAPE;
        }
        strides[i] = in_d[i] == 1 ? 0 : stride;
        stride *= in_d[i];
    }
    return FN_OK;
}

/* The output's dims, innermost first, with each operand's element step; a dim of size 1 is dropped and a
 * dim continues the one inside it where both operands step through the two as through one (both
 * broadcast, or both contiguous), so equal shapes become one run and a per-channel constant a run of C. */
static void broadcast_runs(const fn_dims *out, const int32_t s1[4], const int32_t s2[4], int32_t size[4],
                              int32_t step1[4], int32_t step2[4])
{
    const int32_t out_d[4] = {out->n, out->h, out->w, out->c};
    int32_t count = 0;
    for (int i = 3; i >= 0; --i) {
        if (out_d[i] == 1) {
            continue;
        }
        if (count > 0 && s1[i] == step1[count - 1] * size[count - 1] && s2[i] == step2[count - 1] * size[count - 1]) {
            size[count - 1] *= out_d[i];
            continue;
        }
        size[count] = out_d[i];
        step1[count] = s1[i];
        step2[count] = s2[i];
        ++count;
    }
    for (int32_t i = count; i < 4; ++i) {
        size[i] = 1;
        step1[i] = step2[i] = 0;
    }
}

fn_status fn_binary_broadcast(fn_binary_row row, const void *params, const fn_dims *in1_dims, const int8_t *in1,
                              const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
    if (!params || !in1 || !in2 || !output || !fn_dims_valid(in1_dims) || !fn_dims_valid(in2_dims) ||
        !fn_dims_valid(out_dims)) {
        return FN_ERR_ARGUMENT;
    }
    int32_t s1[4], s2[4];
    if (fn_broadcast_strides(in1_dims, out_dims, s1) != FN_OK || fn_broadcast_strides(in2_dims, out_dims, s2) != FN_OK) {
        return FN_ERR_SHAPE;
    }
    int32_t size[4], a[4], b[4];
    broadcast_runs(out_dims, s1, s2, size, a, b);
    for (int32_t i3 = 0; i3 < size[3]; ++i3) {
        for (int32_t i2 = 0; i2 < size[2]; ++i2) {
            for (int32_t i1 = 0; i1 < size[1]; ++i1) {
                const int32_t offset1 = i3 * a[3] + i2 * a[2] + i1 * a[1];
                const int32_t offset2 = i3 * b[3] + i2 * b[2] + i1 * b[1];
                row(params, in1 + offset1, a[0], in2 + offset2, b[0], output, size[0]);
                output += size[0];
            }
        }
    }
    return FN_OK;
}
