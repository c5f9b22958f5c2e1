/* FULLY_CONNECTED int8 (TFLM reference_integer_ops::FullyConnected), weights [out][in]. */
#include "../support/fn_internal.h"
#include "fully_connected_s8_dsp.h"

/* The scalar dot product: every row in the portable build, the rows past the last 4 in the DSP one. */
static int32_t fc_dot(const fn_fc_params *p, const int8_t *x, const int8_t *w, int32_t n)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += ((int32_t)w[i] + p->filter_offset) * ((int32_t)x[i] + p->input_offset);
    }
    return acc;
}

static int8_t fc_finish(const fn_fc_params *p, const fn_channel_quant *q, const int32_t *bias, int32_t o,
                        int32_t acc)
{
    if (bias) {
        acc += bias[o];
    }
    const int32_t qi = p->per_channel ? o : 0;
    return fn_requant_s8(acc, q->multiplier[qi], q->shift[qi], p->output_offset, p->act_min, p->act_max);
}

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
        int32_t o = 0;
#if FN_USE_DSP
        /* TFLM's int8 offsets: the input plus offset within +-256, no weight offset. */
        if (p->filter_offset == 0 && p->input_offset >= -128 && p->input_offset <= 128) {
            for (; o + 4 <= out_features; o += 4) {
                int32_t acc[4];
                fc_dot4(x, in_features, weights + o * in_features, p->input_offset, acc);
                for (int32_t r = 0; r < 4; ++r) {
                    *output++ = fc_finish(p, q, bias, o + r, acc[r]);
                }
            }
        }
#endif
        for (; o < out_features; ++o) {
            *output++ = fc_finish(p, q, bias, o, fc_dot(p, x, weights + o * in_features, in_features));
        }
    }
    return FN_OK;
}
