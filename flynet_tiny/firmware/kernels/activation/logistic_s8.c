/* LOGISTIC int8 (TFLM reference_integer_ops::Logistic): input rescaled to Q4.27,
 * gemmlowp fixed-point logistic, output in Q0.31 rounded to 1/256 steps. */
#include "../support/fn_internal.h"

int8_t fn_logistic_one(const fn_logistic_params *p, int8_t value)
{
    return fn_q4_function_s8(p, value, fn_fx_logistic_q4, 8, -128);
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
