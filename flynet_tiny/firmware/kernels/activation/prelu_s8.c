/* PRELU int8 (TFLM reference_ops::BroadcastPrelu4DSlow): x + offset requantized by the identity
 * multiplier where it is >= 0, else its product with alpha + alpha_offset by alpha's multiplier;
 * alpha (a constant tensor: per channel, per element, ...) broadcasts against the input. */
#include "../support/fn_internal.h"
#include "prelu_s8_dsp.h"

static inline int8_t prelu_one(const fn_prelu_params *p, int8_t x, int8_t alpha)
{
    const int32_t v = (int32_t)x + p->input_offset;
    const int32_t y = v >= 0 ? fn_mbqm(v, p->identity_multiplier, p->identity_shift)
                             : fn_mbqm(v * ((int32_t)alpha + p->alpha_offset), p->alpha_multiplier, p->alpha_shift);
    return (int8_t)fn_clamp32(fn_wrap_add(y, p->output_offset), FN_INT8_MIN, FN_INT8_MAX);
}

FN_BINARY_ROW(prelu_row, fn_prelu_params, prelu_one)

fn_status fn_prelu_s8(const fn_prelu_params *p, const fn_dims *in_dims, const int8_t *input,
                      const fn_dims *alpha_dims, const int8_t *alpha, const fn_dims *out_dims, int8_t *output)
{
#if FN_USE_DSP
    prelu_fast_params fast;
    if (p && prelu_fast_prepare(p, &fast)) {
        return fn_binary_broadcast(prelu_fast_row, &fast, in_dims, input, alpha_dims, alpha, out_dims, output);
    }
#endif
    return fn_binary_broadcast(prelu_row, p, in_dims, input, alpha_dims, alpha, out_dims, output);
}
