/* Fused ECA int8, DSP path of eca_s8.c (Cortex-M4/M7), which includes this file: static functions
 * that fn_eca_s8 inlines (the squared difference's input-1 term from a table, SMMULR requantization of
 * the square and of the MUL). */
#ifndef FN_ECA_S8_DSP_H
#define FN_ECA_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* SQUARED_DIFFERENCE's input term (eca_s8.c). */
static int32_t sqdiff_term(const fn_eca_params *p, int32_t v, int32_t offset, int32_t multiplier, int32_t shift);

static int32_t abs32(int32_t v) { return v < 0 ? -v : v; }

/* Largest |term| over int8 inputs: at an end of the range, as MBQM is monotone. */
static int32_t term_bound(const fn_eca_params *p, int32_t offset, int32_t multiplier, int32_t shift)
{
    return fn_max32(abs32(sqdiff_term(p, FN_INT8_MIN, offset, multiplier, shift)),
                    abs32(sqdiff_term(p, FN_INT8_MAX, offset, multiplier, shift)));
}

/* The squared difference's input-1 term for every int8 x (a_table[x + 128]), and whether the SMMULR
 * form serves its output: a right shift of 1..22, a non-negative multiplier (so no sign term), and
 * |a - b| <= 32767 for all terms (a left shift of at most 21 keeps (x + offset) << shift from
 * wrapping, so the ends of the range bound the terms), which keeps the doubled square below 2^31
 * and every term an int16. */
static int sqdiff_fast_prepare(const fn_eca_params *p, int16_t *a_table)
{
    if (!fn_doubled_exponent(p->sqdiff_output_shift) || p->sqdiff_output_multiplier < 0 || p->sqdiff_left_shift < 0 ||
        p->sqdiff_left_shift > 21 ||
        term_bound(p, p->sqdiff_input1_offset, p->sqdiff_input1_multiplier, p->sqdiff_input1_shift) +
                term_bound(p, p->sqdiff_input2_offset, p->sqdiff_input2_multiplier, p->sqdiff_input2_shift) >
            32767) {
        return 0;
    }
    for (int32_t v = FN_INT8_MIN; v <= FN_INT8_MAX; ++v) {
        a_table[v - FN_INT8_MIN] = (int16_t)sqdiff_term(p, v, p->sqdiff_input1_offset, p->sqdiff_input1_multiplier,
                                                        p->sqdiff_input1_shift);
    }
    return 1;
}

/* Sum over one channel of the int8 squared differences from the channel's input-2 term b. */
static int32_t fast_sqdiff_sum(const fn_eca_params *p, const int16_t *a_table, const int8_t *x, int32_t count,
                               int32_t stride, int32_t b)
{
    const int16_t *a_of = a_table - FN_INT8_MIN;
    const int32_t mo = p->sqdiff_output_multiplier, eo = -p->sqdiff_output_shift;
    const int32_t addo = fn_requant_addend(eo, p->sqdiff_output_offset);
    int32_t acc = 0;
    for (int32_t i = 0; i < count; ++i) {
        const int32_t diff = a_of[x[i * stride]] - b;
        int32_t high; /* >= 0: the square and its multiplier are, so no sign term */
        __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"((diff * diff) << 1), "r"(mo));
        acc += __ssat((high + addo) >> eo, 8);
    }
    return acc;
}

/* y = MUL(x, s) over one channel, s's offset term folded into one multiply-accumulate. */
static void fast_scale_channel(const fn_mul_params *m, int32_t e, const int8_t *x, int8_t *y, int32_t count,
                               int32_t stride, int32_t s)
{
    const int32_t k2 = 2 * (s + m->input2_offset);
    const int32_t bias2 = m->input1_offset * k2;
    const int32_t mult = m->output_multiplier, addend = fn_requant_addend(e, m->output_offset);
    const int32_t lo = m->act_min, hi = m->act_max;
    for (int32_t i = 0; i < count; ++i) {
        const int32_t v = fn_requant_doubled(x[i * stride] * k2 + bias2, mult, e, addend);
        y[i * stride] = (int8_t)fn_clamp32(v, lo, hi);
    }
}
#endif

#endif /* FN_ECA_S8_DSP_H */
