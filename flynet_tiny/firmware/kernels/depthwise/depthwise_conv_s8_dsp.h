/* DEPTHWISE_CONV_2D int8, DSP part of the per-pixel path of depthwise_conv_s8.c (Cortex-M4/M7), which
 * includes this file: static functions fn_depthwise_run inlines. (The 3x3 and 5x5 plane paths are
 * depthwise_3x3_s8_dsp.c and depthwise_5x5_s8_dsp.c.) */
#ifndef FN_DEPTHWISE_CONV_S8_DSP_H
#define FN_DEPTHWISE_CONV_S8_DSP_H

#include "depthwise_internal.h"

#if FN_USE_DSP
/* The portable per-channel loop for one head (depthwise_conv_s8.c), for the channels past the last 4. */
static int8_t *dw_pixel_h1(const tap_window *t, int32_t c, int32_t channels, const dw_output *o, int8_t *out);

/* dw_requant through fn_requant_doubled (+ SSAT and the clamp), for layers where fn_fast_requant_applies
 * (every shift a right shift of 1..22, sums below 2^30): half the instructions of the general form. */
static inline int8_t dw_requant_fast(const dw_output *o, int32_t acc, int32_t oc)
{
    const int32_t exponent = -o->shift[oc];
    const int32_t y = fn_requant_doubled(2 * (acc + (o->bias ? o->bias[oc] : 0)), o->multiplier[oc], exponent,
                                         fn_requant_addend(exponent, o->output_offset));
    return (int8_t)fn_clamp32(__ssat(y, 8), o->act_min, o->act_max);
}

/* heads == 1, four channels per step: __sxtb16 unpacks 4 inputs and 4 weights, SMLABB / SMLATT
 * accumulate each channel in its own register; the channel tail goes through dw_pixel_h1. `fast`: the
 * layer takes fn_requant_doubled (a constant where inlined). */
static inline __attribute__((always_inline)) int8_t *dw_pixel_simd(const tap_window *t, int32_t channels,
                                                                   const dw_output *o, int8_t *out, int fast)
{
    const int32_t offset2 = (int32_t)(((uint32_t)(uint16_t)t->input_offset << 16) | (uint16_t)t->input_offset);
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *xr = t->x + c, *wr = t->w + c;
        for (int32_t r = 0; r < t->rows; ++r, xr += t->x_row, wr += t->w_row) {
            const int8_t *xp = xr, *wp = wr;
            for (int32_t k = 0; k < t->cols; ++k, xp += t->x_col, wp += t->w_col) {
                const uint32_t xv = fn_read_u32(xp), wv = fn_read_u32(wp);
                const int32_t x_even = __sxtab16(offset2, (int32_t)xv), x_odd = fn_sxtab16_ror8(offset2, xv);
                const int32_t w_even = __sxtb16((int32_t)wv), w_odd = fn_sxtb16_ror8(wv);
                a0 = __smlabb(w_even, x_even, a0);
                a1 = __smlabb(w_odd, x_odd, a1);
                a2 = __smlatt(w_even, x_even, a2);
                a3 = __smlatt(w_odd, x_odd, a3);
            }
        }
        if (fast) {
            out[0] = dw_requant_fast(o, a0, c);
            out[1] = dw_requant_fast(o, a1, c + 1);
            out[2] = dw_requant_fast(o, a2, c + 2);
            out[3] = dw_requant_fast(o, a3, c + 3);
        } else {
            out[0] = dw_requant(o, a0, c);
            out[1] = dw_requant(o, a1, c + 1);
            out[2] = dw_requant(o, a2, c + 2);
            out[3] = dw_requant(o, a3, c + 3);
        }
        out += 4;
    }
    return dw_pixel_h1(t, c, channels, o, out);
}
#endif

#endif /* FN_DEPTHWISE_CONV_S8_DSP_H */
