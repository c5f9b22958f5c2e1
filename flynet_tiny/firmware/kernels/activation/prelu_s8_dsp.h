/* PRELU int8, DSP path of prelu_s8.c (Cortex-M4/M7), which includes this file: both requantizations
 * (x + offset, at most 2^8, and its product with alpha + offset, at most 2^16) by fn_short_requant. */
#ifndef FN_PRELU_S8_DSP_H
#define FN_PRELU_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
typedef struct {
    fn_short_requant identity, alpha;
    int32_t input_offset, alpha_offset;
} prelu_fast_params;

static int prelu_fast_prepare(const fn_prelu_params *p, prelu_fast_params *f)
{
    if (p->input_offset < -128 || p->input_offset > 128 || p->alpha_offset < -128 || p->alpha_offset > 128) {
        return 0;
    }
    f->input_offset = p->input_offset;
    f->alpha_offset = p->alpha_offset;
    return fn_short_requant_prepare(p->identity_multiplier, p->identity_shift, p->output_offset, &f->identity) &&
           fn_short_requant_prepare(p->alpha_multiplier, p->alpha_shift, p->output_offset, &f->alpha);
}

static inline int8_t prelu_fast_one(const prelu_fast_params *f, int8_t x, int8_t alpha)
{
    const int32_t v = (int32_t)x + f->input_offset;
    const int32_t y = v >= 0 ? fn_short_requant_apply(&f->identity, v)
                             : fn_short_requant_apply(&f->alpha, v * ((int32_t)alpha + f->alpha_offset));
    return (int8_t)__ssat(y, 8);
}

FN_BINARY_ROW(prelu_fast_row, prelu_fast_params, prelu_fast_one)
#endif

#endif /* FN_PRELU_S8_DSP_H */
