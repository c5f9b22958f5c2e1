/* MicroNet's dynamic Shift-Max applied to an NHWC map, as the converter's op chain computes it:
 *
 *   a_k, b_k = STRIDED_SLICEs of the coefficient vector (coefficients[offset + c])
 *   s        = SLICEs + CONCATENATION of x: s[c] = x[(c + shift) mod C]
 *   v_k      = ADD(MUL(x, a_k), MUL(s, b_k))        (the MULs broadcast a_k, b_k over H and W)
 *   y        = MAXIMUM(v_0, v_1) for K = 2, v_0 for K = 1
 *
 * in one pass: every element goes through TFLM's MUL, MUL, ADD and MAXIMUM arithmetic in registers,
 * so the shifted map, the broadcast coefficients and the 3K - 1 intermediate maps never exist.
 * Each ADD operand's rescaling (a function of one int8 value) is a 256-entry table built at the start
 * of the call; y may overwrite x (each pixel is copied to the scratch before it is written).
 */
#include "../support/fn_internal.h"

#define TABLE 256 /* one int32 per int8 value */

int32_t fn_shift_max_s8_get_buffer_size(const fn_dims *dims, const fn_dims *coefficient_dims)
{
    const int32_t fusions = coefficient_dims->c / (2 * dims->c);
    return (2 * fusions * TABLE) * (int32_t)sizeof(int32_t) + ((dims->c + 3) & ~3);
}

/* table[v + 128] = the ADD's rescaled operand for the int8 product v. */
static void operand_table(int32_t *table, int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift)
{
    for (int32_t v = FN_INT8_MIN; v <= FN_INT8_MAX; ++v) {
        table[v - FN_INT8_MIN] = fn_add_s8_operand(v, offset, left_shift, multiplier, shift);
    }
}

static inline int8_t fusion(const fn_mul_params *ma, const fn_mul_params *mb, const fn_add_params *add,
                            const int32_t *table_a, const int32_t *table_b, int32_t x, int32_t shifted, int32_t a,
                            int32_t b)
{
    const int8_t pa = fn_mul_s8_one(ma, x, a), pb = fn_mul_s8_one(mb, shifted, b);
    const int32_t sum = fn_wrap_add(table_a[pa - FN_INT8_MIN], table_b[pb - FN_INT8_MIN]);
    return fn_requant_s8(sum, add->output_multiplier, add->output_shift, add->output_offset, add->act_min,
                         add->act_max);
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
    int32_t *tables = (int32_t *)scratch;
    int8_t *pixel = (int8_t *)(tables + 2 * fusions * TABLE);
    const fn_add_params *adds[2] = {&p->add0, &p->add1};
    for (int32_t k = 0; k < fusions; ++k) {
        const fn_add_params *add = adds[k];
        operand_table(tables + 2 * k * TABLE, add->input1_offset, add->left_shift, add->input1_multiplier,
                      add->input1_shift);
        operand_table(tables + (2 * k + 1) * TABLE, add->input2_offset, add->left_shift, add->input2_multiplier,
                      add->input2_shift);
    }
    const int8_t *a0 = coefficients + p->a0_offset, *b0 = coefficients + p->b0_offset;
    const int8_t *a1 = coefficients + p->a1_offset, *b1 = coefficients + p->b1_offset;
    const int32_t pixels = dims->n * dims->h * dims->w, wrap = channels - p->shift;
    for (int32_t i = 0; i < pixels; ++i) {
        const int8_t *x = input + i * channels;
        int8_t *y = output + i * channels;
        for (int32_t c = 0; c < channels; ++c) {
            pixel[c] = x[c];
        }
        for (int32_t c = 0; c < channels; ++c) {
            const int32_t v = pixel[c], shifted = pixel[c < wrap ? c + p->shift : c - wrap];
            int8_t out = fusion(&p->mul_a0, &p->mul_b0, &p->add0, tables, tables + TABLE, v, shifted, a0[c], b0[c]);
            if (fusions == 2) {
                const int8_t second = fusion(&p->mul_a1, &p->mul_b1, &p->add1, tables + 2 * TABLE,
                                             tables + 3 * TABLE, v, shifted, a1[c], b1[c]);
                out = second > out ? second : out; /* MAXIMUM: both sides on one grid */
            }
            y[c] = out;
        }
    }
    return FN_OK;
}
