/* HARD_SWISH int8 (TFLM reference_ops::HardSwish<int8_t>): 16-bit fixed point,
 * a "relu-ish" factor in [0, 1] times the input on a pre-shift output scale. */
#include "../support/fn_internal.h"

static int16_t sat16(int32_t x) { return (int16_t)fn_clamp32(x, INT16_MIN, INT16_MAX); }

static int16_t srdhm16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

static int16_t sdhm16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static int16_t rdbpot16(int16_t x, int exponent)
{
    const int16_t mask = (int16_t)((1 << exponent) - 1);
    const int16_t remainder = (int16_t)(x & mask);
    const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
    return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

fn_status fn_hard_swish_s8(const fn_hard_swish_params *p, int32_t size, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output) {
        return FN_ERR_ARGUMENT;
    }
    if (p->output_multiplier_exponent > 0 || p->output_multiplier_exponent < -15 ||
        p->reluish_multiplier_exponent > 15 || p->reluish_multiplier_exponent < -15) {
        return FN_ERR_UNSUPPORTED;
    }
    const int16_t out_mult = (int16_t)p->output_multiplier_fixedpoint_int16;
    const int16_t relu_mult = (int16_t)p->reluish_multiplier_fixedpoint_int16;
    for (int32_t i = 0; i < size; ++i) {
        const int16_t x = (int16_t)((int32_t)input[i] - p->input_zero_point);
        const int16_t x_hires = (int16_t)(x * (1 << 7));
        const int16_t x_preshift_out = srdhm16(x_hires, out_mult);
        int16_t reluish = x_hires;
        if (p->reluish_multiplier_exponent > 0) {
            reluish = sat16((int32_t)reluish * (1 << (p->reluish_multiplier_exponent - 1)));
        }
        reluish = srdhm16(reluish, relu_mult);
        if (p->reluish_multiplier_exponent > 0) {
            reluish = sat16((int32_t)reluish * 2);
        }
        if (p->reluish_multiplier_exponent < 0) {
            reluish = rdbpot16(reluish, -p->reluish_multiplier_exponent);
        }
        reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);
        const int16_t preshift = sdhm16(reluish, x_preshift_out);
        int16_t y = rdbpot16(preshift, -p->output_multiplier_exponent);
        y = (int16_t)(y + p->output_zero_point);
        output[i] = (int8_t)fn_clamp32(y, FN_INT8_MIN, FN_INT8_MAX);
    }
    return FN_OK;
}
