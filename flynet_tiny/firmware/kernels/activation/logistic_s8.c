/* LOGISTIC int8 (TFLM reference_integer_ops::Logistic): input rescaled to Q4.27,
 * gemmlowp fixed-point logistic, output in Q0.31 rounded to 1/256 steps. */
#include "../support/fn_internal.h"

int8_t fn_logistic_one(const fn_logistic_params *p, int8_t value)
{
    const int32_t x = (int32_t)value - p->input_zero_point;
    if (x <= -p->input_range_radius) {
        return FN_INT8_MIN;
    }
    if (x >= p->input_range_radius) {
        return FN_INT8_MAX;
    }
    const int32_t x_q4 = fn_mbqm(x, p->input_multiplier, p->input_left_shift);
    const int32_t y_q0 = fn_fx_logistic_q4(x_q4);
    const int32_t y = fn_rdbpot(y_q0, 31 - 8) - 128;
    return (int8_t)fn_clamp32(y, FN_INT8_MIN, FN_INT8_MAX);
}

fn_status fn_logistic_s8(const fn_logistic_params *p, int32_t size, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output || size < 0) {
        return FN_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = fn_logistic_one(p, input[i]);
    }
    return FN_OK;
}
