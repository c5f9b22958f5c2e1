/* FULLY_CONNECTED int8 (TFLM reference_integer_ops::FullyConnected), weights [out][in]. */
#include "fn_internal.h"

fn_status fn_fully_connected_s8(const fn_fc_params *p, const fn_channel_quant *q, int32_t batches,
                                int32_t in_features, const int8_t *input, int32_t out_features,
                                const int8_t *weights, const int32_t *bias, int8_t *output)
{
    if (!p || !q || !q->multiplier || !q->shift || !input || !weights || !output) {
        return FN_ERR_ARGUMENT;
    }
    if (batches < 1 || in_features < 1 || out_features < 1) {
        return FN_ERR_SHAPE;
    }
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *x = input + b * in_features;
        for (int32_t o = 0; o < out_features; ++o) {
            const int8_t *w = weights + o * in_features;
            int32_t acc = 0;
            for (int32_t i = 0; i < in_features; ++i) {
                acc += ((int32_t)w[i] + p->filter_offset) * ((int32_t)x[i] + p->input_offset);
            }
            if (bias) {
                acc += bias[o];
            }
            const int32_t qi = p->per_channel ? o : 0;
            *output++ = fn_requant_s8(acc, q->multiplier[qi], q->shift[qi], p->output_offset, p->act_min, p->act_max);
        }
    }
    return FN_OK;
}
