/* TRANSPOSE_CONV int8, DSP path of transpose_conv_s8.c (Cortex-M4/M7), which includes this file.
 *
 * One output pixel's taps for 2 output channels at a time: per 4 input channels one word load of the
 * input widened with the offset added (two SXTAB16) serves both channels, whose weights are one word
 * load and two SXTB16 each, then two SMLAD per channel: 8 MACs in 13 instructions. The input channels
 * past the last 4 and an odd last output channel go one at a time.
 */
#ifndef FN_TRANSPOSE_CONV_S8_DSP_H
#define FN_TRANSPOSE_CONV_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* acc0 += (x + offset) . w0, acc1 += (x + offset) . w1 over `channels` values. */
static inline void dot2_dsp(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t channels, int32_t offset2,
                            int32_t offset, int32_t *acc0, int32_t *acc1)
{
    int32_t a0 = *acc0, a1 = *acc1, c = 0;
    for (; c + 4 <= channels; c += 4) {
        const uint32_t xv = fn_read_u32(x + c);
        const int32_t x_even = __sxtab16(offset2, (int32_t)xv), x_odd = __sxtab16(offset2, (int32_t)fn_ror8(xv));
        const uint32_t v0 = fn_read_u32(w0 + c), v1 = fn_read_u32(w1 + c);
        a0 = __smlad(x_even, __sxtb16((int32_t)v0), a0);
        a0 = __smlad(x_odd, fn_sxtb16_ror8(v0), a0);
        a1 = __smlad(x_even, __sxtb16((int32_t)v1), a1);
        a1 = __smlad(x_odd, fn_sxtb16_ror8(v1), a1);
    }
    for (; c < channels; ++c) {
        const int32_t xv = (int32_t)x[c] + offset;
        a0 += xv * (int32_t)w0[c];
        a1 += xv * (int32_t)w1[c];
    }
    *acc0 = a0;
    *acc1 = a1;
}

static int8_t *tconv_pixel(const fn_conv_params *p, const fn_channel_quant *q, const int8_t *image,
                               const fn_dims *in, const int8_t *filter, int32_t fh, int32_t fw, const int32_t *bias,
                               int32_t out_c, const tconv_taps *rows, const tconv_taps *cols, int8_t *out)
{
    const int32_t in_c = in->c, offset = p->input_offset;
    const int32_t offset2 = (int32_t)(((uint32_t)(uint16_t)offset << 16) | (uint16_t)offset);
    const int32_t channel_stride = fh * fw * in_c;
    for (int32_t oc = 0; oc < out_c; oc += 2) {
        const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc; /* an odd last channel computes itself twice */
        int32_t acc0 = bias ? bias[oc] : 0, acc1 = bias ? bias[oc1] : 0;
        for (int32_t r = 0; r < rows->count; ++r) {
            const int8_t *x_row = image + rows->input[r] * in->w * in_c;
            const int8_t *w_row = filter + (oc * fh + rows->filter[r]) * fw * in_c;
            const int32_t w_step = (oc1 - oc) * channel_stride;
            for (int32_t s = 0; s < cols->count; ++s) {
                const int8_t *w0 = w_row + cols->filter[s] * in_c;
                dot2_dsp(x_row + cols->input[s] * in_c, w0, w0 + w_step, in_c, offset2, offset, &acc0, &acc1);
            }
        }
        out[oc] = fn_requant_s8(acc0, q->multiplier[oc], q->shift[oc], p->output_offset, p->act_min, p->act_max);
        if (oc1 != oc) {
            out[oc1] = fn_requant_s8(acc1, q->multiplier[oc1], q->shift[oc1], p->output_offset, p->act_min,
                                     p->act_max);
        }
    }
    return out + out_c;
}
#endif

#endif /* FN_TRANSPOSE_CONV_S8_DSP_H */
