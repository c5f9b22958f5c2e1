/* Declarations the depthwise family's files share; not part of the public API. */
#ifndef FN_DEPTHWISE_INTERNAL_H
#define FN_DEPTHWISE_INTERNAL_H

#include "../support/fn_internal.h"

fn_status fn_check_depthwise(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                             const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                             const fn_dims *out_dims, int32_t out_c, const int8_t *output, int32_t *pad_h,
                             int32_t *pad_w);

/* Depthwise conv over all pixels; with maxout, each channel's heads are reduced by max. `scratch`:
 * fn_depthwise_conv2d_s8_get_buffer_size bytes (the DSP build's 3x3 path needs them). */
fn_status fn_depthwise_run(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                           const int8_t *input, const fn_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                           const fn_dims *out_dims, int8_t *output, int maxout, void *scratch);

/* The per-pixel path (depthwise_conv_s8.c and its DSP part, depthwise_conv_s8_dsp.h): the taps of one
 * output pixel that fall inside the input, and how to step through them. */
typedef struct {
    const int8_t *x;     /* input at the first valid tap, channel 0 */
    const int8_t *w;     /* filter at the first valid tap, output channel 0 */
    int32_t rows, cols;  /* valid taps */
    int32_t x_row, w_row, x_col, w_col;
    int32_t input_offset;
} tap_window;

/* Requantization parameters as locals, so int8 stores cannot force reloads (char aliasing). */
typedef struct {
    const int32_t *bias, *multiplier, *shift;
    int32_t output_offset, act_min, act_max;
    int maxout;
} dw_output;

static inline int8_t dw_requant(const dw_output *o, int32_t acc, int32_t oc)
{
    return fn_requant_s8(acc + (o->bias ? o->bias[oc] : 0), o->multiplier[oc], o->shift[oc], o->output_offset,
                         o->act_min, o->act_max);
}

#if FN_USE_DSP
/* Most heads the 3x3 / 5x5 plane paths take (their per-channel set-up holds one channel's heads). */
#define FN_DW_PLANE_HEADS 16

/* 3x3 depthwise / MDW over channel planes (depthwise_3x3_s8_dsp.c; the planes: depthwise_planes_dsp.c):
 * whether it serves the filter, the scratch 3x3 or 5x5 planes need, and the kernel (shapes checked,
 * fn_fast_requant_applies true). */
int fn_dw3x3_applies(const fn_dims *filter_dims);
int fn_dw5x5_applies(const fn_dims *filter_dims);
int32_t fn_dw_plane_bytes(const fn_dims *in_dims, const fn_dims *filter_dims);
void fn_dw3x3_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                     const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                     int32_t pad_w, int maxout, int8_t *plane);
/* 5x5 depthwise / MDW over the same planes (depthwise_5x5_s8_dsp.c): whether they serve the call (pads,
 * widths), and the kernel. */
int fn_dw5x5_fits(const fn_dims *filter_dims, const fn_conv_params *p, const fn_dims *in, const fn_dims *out,
                  int32_t pad_h, int32_t pad_w);
void fn_dw5x5_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                     const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                     int32_t pad_w, int maxout, int8_t *plane);
/* One-dimensional filters (k x 1, 1 x k, k <= 32), one head, over line planes (depthwise_line_s8_dsp.c):
 * whether it serves the filter, its scratch, and the kernel (shapes checked, dilation 1 along the filter,
 * fn_fast_requant_applies true). */
int fn_dw_line_applies(const fn_dims *filter_dims);
int32_t fn_dw_line_bytes(const fn_dims *in_dims, const fn_dims *filter_dims);
void fn_dw_line_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                       const fn_dims *filter_dims, const int8_t *filter, const int32_t *bias, const fn_dims *out,
                       int8_t *output, int32_t pad_h, int32_t pad_w, int8_t *plane);
#endif

#endif /* FN_DEPTHWISE_INTERNAL_H */
