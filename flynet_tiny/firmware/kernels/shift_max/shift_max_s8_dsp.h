/* Shift-Max, DSP build: every requantization (the 2K MULs, the K ADD outputs) as fn_requant_doubled,
 * SMMULR on the doubled accumulator (|MUL product| < 2^16, |ADD sum| < 2^28, both far below 2^30), where
 * every shift is a right shift of 1..22 (else the portable loop runs). The parameters live in locals
 * for the whole map: int8 stores would otherwise force them to be reloaded (char aliasing). Only
 * shift_max_s8.c includes this file. */
#ifndef SHIFT_MAX_S8_DSP_H
#define SHIFT_MAX_S8_DSP_H

#if FN_USE_DSP
typedef struct {
    int32_t multiplier, exponent, addend, act_min, act_max;
} fast_requant;

static int fast_requant_from(int32_t multiplier, int32_t shift, int32_t output_offset, int32_t act_min,
                             int32_t act_max, fast_requant *r)
{
    r->exponent = fn_doubled_exponent(shift);
    r->multiplier = multiplier;
    r->addend = r->exponent ? fn_requant_addend(r->exponent, output_offset) : 0;
    r->act_min = act_min;
    r->act_max = act_max;
    return r->exponent != 0;
}

static inline int32_t fast_apply(fast_requant r, int32_t acc2)
{
    return fn_clamp32(fn_requant_doubled(acc2, r.multiplier, r.exponent, r.addend), r.act_min, r.act_max);
}

typedef struct {
    fast_requant mul_a, mul_b, add;
    int32_t x_offset, a_offset, shifted_offset, b_offset;
    const int8_t *a, *b;
    const int32_t *table_a, *table_b;
} fast_fusion;

static int fast_fusion_from(const fusion_terms *t, fast_fusion *f)
{
    const fn_mul_params *ma = t->mul_a, *mb = t->mul_b;
    const fn_add_params *add = t->add;
    f->x_offset = ma->input1_offset;
    f->a_offset = ma->input2_offset;
    f->shifted_offset = mb->input1_offset;
    f->b_offset = mb->input2_offset;
    f->a = t->a;
    f->b = t->b;
    f->table_a = t->table_a;
    f->table_b = t->table_b;
    return fast_requant_from(ma->output_multiplier, ma->output_shift, ma->output_offset, ma->act_min, ma->act_max,
                             &f->mul_a)
        && fast_requant_from(mb->output_multiplier, mb->output_shift, mb->output_offset, mb->act_min, mb->act_max,
                             &f->mul_b)
        && fast_requant_from(add->output_multiplier, add->output_shift, add->output_offset, add->act_min,
                             add->act_max, &f->add);
}

static inline int32_t fast_value(const fast_fusion f, int32_t c, int32_t x, int32_t shifted)
{
    const int32_t pa = fast_apply(f.mul_a, 2 * (x + f.x_offset) * (f.a[c] + f.a_offset));
    const int32_t pb = fast_apply(f.mul_b, 2 * (shifted + f.shifted_offset) * (f.b[c] + f.b_offset));
    return fast_apply(f.add, 2 * (f.table_a[pa] + f.table_b[pb]));
}

/* The whole map on the fast path; 0 (nothing written) where a shift is out of its range. */
static int shift_max_dsp(const fusion_terms *terms, int32_t fusions, int32_t shift, int32_t pixels, int32_t channels,
                         const int8_t *input, int8_t *output, int8_t *pixel)
{
    fast_fusion f0, f1;
    if (!fast_fusion_from(&terms[0], &f0) || (fusions == 2 && !fast_fusion_from(&terms[1], &f1))) {
        return 0;
    }
    const int32_t wrap = channels - shift;
    for (int32_t i = 0; i < pixels; ++i, input += channels, output += channels) {
        for (int32_t c = 0; c < channels; ++c) {
            pixel[c] = input[c];
        }
        if (fusions == 1) {
            for (int32_t c = 0; c < channels; ++c) {
                output[c] = (int8_t)fast_value(f0, c, pixel[c], pixel[c < wrap ? c + shift : c - wrap]);
            }
            continue;
        }
        for (int32_t c = 0; c < channels; ++c) {
            const int32_t x = pixel[c], shifted = pixel[c < wrap ? c + shift : c - wrap];
            const int32_t v0 = fast_value(f0, c, x, shifted), v1 = fast_value(f1, c, x, shifted);
            output[c] = (int8_t)(v1 > v0 ? v1 : v0);
        }
    }
    return 1;
}
#endif

#endif /* SHIFT_MAX_S8_DSP_H */
