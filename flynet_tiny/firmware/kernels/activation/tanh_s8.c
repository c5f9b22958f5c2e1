/* TANH int8 (TFLM reference_integer_ops::Tanh): input rescaled to Q4.27 as for LOGISTIC, gemmlowp
 * fixed-point tanh, output in Q0.31 rounded to 1/128 steps. TFLM writes these bytes whatever the
 * output tensor's quantization says (the converter gives 1/128, zero point 0). */
#include "../support/fn_internal.h"

fn_status fn_tanh_s8(const fn_logistic_params *p, int32_t size, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output || size < 0) {
        return FN_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = fn_q4_function_s8(p, input[i], fn_fx_tanh_q4, 7, 0);
    }
    return FN_OK;
}
