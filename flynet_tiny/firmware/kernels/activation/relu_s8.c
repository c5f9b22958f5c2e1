/* RELU, RELU_N1_TO_1 and RELU6 int8. RELU is TFLM's ReluQuantized: the input requantized to the
 * output's scale, then clamped to the quantized bounds. TFLM's RELU6 only clamps the raw input to
 * its own quantized 0 and 6 (it ignores the output's quantization): the same kernel with an identity
 * requantization (multiplier 2^30, shift 1, output zero point = the input's). RELU_N1_TO_1 (not in
 * TFLM) is LiteRT's ReluX(-1, 1): RELU's arithmetic with the bounds of -1 and 1. */
#include "../support/fn_internal.h"

fn_status fn_relu_s8(const fn_relu_params *p, int32_t size, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output || size < 0 || p->act_min > p->act_max || p->act_min < FN_INT8_MIN ||
        p->act_max > FN_INT8_MAX) {
        return FN_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = fn_requant_s8((int32_t)input[i] - p->input_zero_point, p->multiplier, p->shift,
                                  p->output_zero_point, p->act_min, p->act_max);
    }
    return FN_OK;
}
