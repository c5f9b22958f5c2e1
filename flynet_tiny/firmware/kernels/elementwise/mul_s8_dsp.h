/* MUL int8, DSP path of mul_s8.c (Cortex-M4/M7), which includes this file: the product of the offset
 * operands (at most 2^16) requantized by fn_short_requant (SMMULR) instead of the 64-bit general form. */
#ifndef FN_MUL_S8_DSP_H
#define FN_MUL_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
typedef struct {
    fn_short_requant requant;
    int32_t offset1, offset2, act_min, act_max;
} mul_fast_params;

static int mul_fast_prepare(const fn_mul_params *p, mul_fast_params *f)
{
    if (p->input1_offset < -128 || p->input1_offset > 128 || p->input2_offset < -128 || p->input2_offset > 128) {
        return 0;
    }
    f->offset1 = p->input1_offset;
    f->offset2 = p->input2_offset;
    f->act_min = p->act_min;
    f->act_max = p->act_max;
    return fn_short_requant_prepare(p->output_multiplier, p->output_shift, p->output_offset, &f->requant);
}

static inline int8_t mul_fast_one(const mul_fast_params *f, int8_t a, int8_t b)
{
    const int32_t y = fn_short_requant_apply(&f->requant, ((int32_t)a + f->offset1) * ((int32_t)b + f->offset2));
    return (int8_t)fn_clamp32(y, f->act_min, f->act_max);
}

FN_BINARY_ROW(mul_fast_row, mul_fast_params, mul_fast_one)
#endif

#endif /* FN_MUL_S8_DSP_H */
