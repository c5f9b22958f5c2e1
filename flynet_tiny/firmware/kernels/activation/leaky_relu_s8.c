/* LEAKY_RELU int8 (TFLM reference_ops::QuantizeLeakyRelu): x - zp requantized by the identity
 * multiplier where it is >= 0, by alpha's otherwise. A negative alpha gives a negative multiplier; TFLM's
 * bytes are then those of its magnitude's requantization, negated (checked on every input value). */
#include "../support/fn_internal.h"

static inline int32_t scaled(int32_t x, int32_t multiplier, int32_t shift)
{
    if (multiplier < 0) {
        return -fn_mbqm(x, (int32_t)(0u - (uint32_t)multiplier), shift);
    }
    return fn_mbqm(x, multiplier, shift);
}

fn_status fn_leaky_relu_s8(const fn_leaky_relu_params *p, int32_t size, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output || size < 0) {
        return FN_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] - p->input_zero_point;
        const int32_t y = x >= 0 ? fn_mbqm(x, p->identity_multiplier, p->identity_shift)
                                 : scaled(x, p->alpha_multiplier, p->alpha_shift);
        output[i] = (int8_t)fn_clamp32(fn_wrap_add(y, p->output_zero_point), FN_INT8_MIN, FN_INT8_MAX);
    }
    return FN_OK;
}
