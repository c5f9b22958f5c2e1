/* SOFTMAX int8 -> int8 (TFLM reference_ops::Softmax for quantized types):
 * differences to the row max in Q5.26, gemmlowp exp, sum in Q12.19, one
 * fixed-point reciprocal per row. */
#include <stddef.h>

#include "../support/fn_internal.h"

/* Leading zeros; one CLZ instruction on the cores (a bit loop cost ECA's short rows ~60 instructions). */
static int32_t clz32(uint32_t x) { return x == 0 ? 32 : __builtin_clz(x); }

/* exp of a difference to the row max (diff_min <= diff <= 0), Q0.31; through `memo` where given. */
static int32_t row_exp(const fn_softmax_params *p, int32_t diff, int32_t *memo)
{
    if (memo && memo[-diff] >= 0) {
        return memo[-diff];
    }
    const int32_t e = fn_fx_exp_on_negative_values(fn_mbqm_gt_one(diff, p->input_multiplier, p->input_left_shift), 5);
    if (memo) {
        memo[-diff] = e;
    }
    return e;
}

void fn_softmax_row(const fn_softmax_params *p, int32_t depth, const int8_t *in, int32_t in_stride, int8_t *out,
                    int32_t out_stride, int32_t *exp_memo)
{
    int32_t max_in_row = FN_INT8_MIN;
    for (int32_t c = 0; c < depth; ++c) {
        max_in_row = fn_max32(max_in_row, in[c * in_stride]);
    }
    int32_t sum_of_exps = 0; /* Q12.19 */
    for (int32_t c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c * in_stride] - max_in_row;
        if (diff >= p->diff_min) {
            sum_of_exps = fn_wrap_add(sum_of_exps, fn_fx_rescale(row_exp(p, diff, exp_memo), 0, 12));
        }
    }
    const int32_t headroom_plus_one = clz32((uint32_t)sum_of_exps);
    const int32_t num_bits_over_unit = 12 - headroom_plus_one;
    /* A zero sum (every element below diff_min: a diff_min > 0, outside TFLM's domain) would shift by 32. */
    const uint32_t shifted_sum = headroom_plus_one < 32 ? (uint32_t)sum_of_exps << headroom_plus_one : 0u;
    const int32_t shifted_sum_minus_one = (int32_t)(shifted_sum - ((uint32_t)1 << 31));
    const int32_t shifted_scale = fn_fx_one_over_one_plus_x(shifted_sum_minus_one);
    for (int32_t c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c * in_stride] - max_in_row;
        int32_t y = FN_INT8_MIN;
        if (diff >= p->diff_min) {
            const int32_t exp_q0 = row_exp(p, diff, exp_memo);
            const int32_t exponent = num_bits_over_unit + 31 - 8;
            /* Past 31 the quotient rounds to 0 (TFLM's int32 shift is undefined there). */
            const int32_t unsat = exponent > 31 ? 0 : fn_rdbpot(fn_fx_mul(shifted_scale, exp_q0), exponent);
            y = fn_clamp32(unsat - 128, FN_INT8_MIN, FN_INT8_MAX);
        }
        out[c * out_stride] = (int8_t)y;
    }
}

fn_status fn_softmax_s8(const fn_softmax_params *p, int32_t rows, int32_t depth, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output) {
        return FN_ERR_ARGUMENT;
    }
    if (rows < 1 || depth < 1) {
        return FN_ERR_SHAPE;
    }
    if (p->input_left_shift < 0 || p->input_left_shift > 31) {
        return FN_ERR_ARGUMENT;
    }
    if (rows == 1) {
        fn_softmax_row(p, depth, input, 1, output, 1, NULL);
        return FN_OK;
    }
    /* Many rows (a per-pixel softmax): every exp depends only on the difference to its row's max, one of 256
     * values, so each is computed once per call (a segmentation head's 4-class rows: ~1,600 -> ~530
     * instructions per row). */
    int32_t exp_memo[FN_SOFTMAX_EXP_MEMO];
    __builtin_memset(exp_memo, 0xff, sizeof exp_memo); /* every entry -1: unknown */
    for (int32_t r = 0; r < rows; ++r) {
        fn_softmax_row(p, depth, input + r * depth, 1, output + r * depth, 1, exp_memo);
    }
    return FN_OK;
}
