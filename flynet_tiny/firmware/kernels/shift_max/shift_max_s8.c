/* MicroNet's dynamic Shift-Max applied to an NHWC map, as the converter's op chain computes it:
 *
 *   a_k, b_k = STRIDED_SLICEs of the coefficient vector (coefficients[offset + c])
 *   s        = SLICEs + CONCATENATION of x: s[c] = x[(c + shift) mod C]
 *   v_k      = ADD(MUL(x, a_k), MUL(s, b_k))        (the MULs broadcast a_k, b_k over H and W)
 *   y        = MAXIMUM(v_0, v_1) for K = 2, v_0 for K = 1
 *
 * in one pass: every element goes through TFLM's MUL, MUL, ADD and MAXIMUM arithmetic in registers,
 * so the shifted map, the broadcast coefficients and the 3K - 1 intermediate maps never exist.
 * Each ADD operand's rescaling is a function of one int8 value: on maps of more than 512 elements it
 * is a 256-entry table built at the start of the call (below that, computing it costs less). y may
 * overwrite x (each pixel is copied to the scratch before it is written). The DSP build takes the
 * SMMULR requantization of shift_max_s8_dsp.h where TFLM's parameters allow it; same bytes.
 */
#include <stddef.h>

#include "../support/fn_internal.h"

#define TABLE 256           /* one int32 per int8 value */
#define TABLE_MIN_ELEMENTS 512

typedef struct {
    const fn_mul_params *mul_a, *mul_b;
    const fn_add_params *add;
    const int8_t *a, *b;         /* the coefficient slices */
    const int32_t *table_a, *table_b; /* indexed by the int8 product, or NULL: compute the operand */
} fusion_terms;

#include "shift_max_s8_dsp.h"

int32_t fn_shift_max_s8_get_buffer_size(const fn_dims *dims, const fn_dims *coefficient_dims)
{
    const int32_t fusions = coefficient_dims->c / (2 * dims->c);
    return (2 * fusions * TABLE) * (int32_t)sizeof(int32_t) + ((dims->c + 3) & ~3);
}

/* table[v + 128] = the ADD's rescaled operand for the int8 product v; returns table + 128. */
static const int32_t *operand_table(int32_t *table, int32_t offset, int32_t left_shift, int32_t multiplier,
                                    int32_t shift)
{
    for (int32_t v = FN_INT8_MIN; v <= FN_INT8_MAX; ++v) {
        table[v - FN_INT8_MIN] = fn_rescaled_operand(v, offset, left_shift, multiplier, shift);
    }
    return table - FN_INT8_MIN;
}

static inline int32_t operand(const int32_t *table, int8_t v, int32_t offset, const fn_add_params *add,
                              int32_t multiplier, int32_t shift)
{
    return table ? table[v] : fn_rescaled_operand(v, offset, add->left_shift, multiplier, shift);
}

static inline int8_t fusion_value(const fusion_terms *f, int32_t c, int32_t x, int32_t shifted)
{
    const int8_t pa = fn_mul_s8_one(f->mul_a, x, f->a[c]), pb = fn_mul_s8_one(f->mul_b, shifted, f->b[c]);
    const fn_add_params *add = f->add;
    const int32_t sum = fn_wrap_add(operand(f->table_a, pa, add->input1_offset, add, add->input1_multiplier,
                                            add->input1_shift),
                                    operand(f->table_b, pb, add->input2_offset, add, add->input2_multiplier,
                                            add->input2_shift));
    return fn_requant_s8(sum, add->output_multiplier, add->output_shift, add->output_offset, add->act_min,
                         add->act_max);
}

static void shift_max_portable(const fusion_terms *terms, int32_t fusions, int32_t shift, int32_t pixels,
                               int32_t channels, const int8_t *input, int8_t *output, int8_t *pixel)
{
    const int32_t wrap = channels - shift;
    for (int32_t i = 0; i < pixels; ++i, input += channels, output += channels) {
        for (int32_t c = 0; c < channels; ++c) {
            pixel[c] = input[c];
        }
        for (int32_t c = 0; c < channels; ++c) {
            const int32_t x = pixel[c], shifted = pixel[c < wrap ? c + shift : c - wrap];
            int8_t out = fusion_value(&terms[0], c, x, shifted);
            if (fusions == 2) {
                const int8_t second = fusion_value(&terms[1], c, x, shifted);
                out = second > out ? second : out; /* MAXIMUM compares the int8 values (one grid) */
            }
            output[c] = out;
        }
    }
}

static int add_params_valid(const fn_add_params *add) { return add->left_shift >= 0 && add->left_shift <= 30; }

fn_status fn_shift_max_s8(const fn_shift_max_params *p, const fn_dims *dims, const int8_t *input,
                          const int8_t *coefficients, int8_t *output, void *scratch)
{
    if (!p || !dims || !input || !coefficients || !output || !scratch || !fn_dims_valid(dims)) {
        return FN_ERR_ARGUMENT;
    }
    const int32_t channels = dims->c, fusions = p->fusions;
    if ((fusions != 1 && fusions != 2) || p->shift < 0 || p->shift >= channels || !add_params_valid(&p->add0)
            || (fusions == 2 && !add_params_valid(&p->add1))) {
        return FN_ERR_ARGUMENT;
    }
    const int32_t pixels = dims->n * dims->h * dims->w;
    int32_t *tables = (int32_t *)scratch;
    int8_t *pixel = (int8_t *)(tables + 2 * fusions * TABLE);
    const int use_tables = pixels * channels > TABLE_MIN_ELEMENTS;
    fusion_terms terms[2] = {
        {&p->mul_a0, &p->mul_b0, &p->add0, coefficients + p->a0_offset, coefficients + p->b0_offset, NULL, NULL},
        {&p->mul_a1, &p->mul_b1, &p->add1, coefficients + p->a1_offset, coefficients + p->b1_offset, NULL, NULL},
    };
    for (int32_t k = 0; k < fusions && use_tables; ++k) {
        const fn_add_params *add = terms[k].add;
        terms[k].table_a = operand_table(tables + 2 * k * TABLE, add->input1_offset, add->left_shift,
                                         add->input1_multiplier, add->input1_shift);
        terms[k].table_b = operand_table(tables + (2 * k + 1) * TABLE, add->input2_offset, add->left_shift,
                                         add->input2_multiplier, add->input2_shift);
    }
#if FN_USE_DSP
    if (use_tables && shift_max_dsp(terms, fusions, p->shift, pixels, channels, input, output, pixel)) {
        return FN_OK;
    }
#endif
    shift_max_portable(terms, fusions, p->shift, pixels, channels, input, output, pixel);
    return FN_OK;
}
