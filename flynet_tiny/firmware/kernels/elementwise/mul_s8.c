/* MUL int8 (TFLM reference_integer_ops::Mul / BroadcastMul). */
#include "../support/fn_internal.h"
#include "mul_s8_dsp.h"

static inline int8_t mul_one(const fn_mul_params *p, int8_t a, int8_t b)
{
    return fn_mul_s8_one(p, a, b);
}

FN_BINARY_ROW(mul_row, fn_mul_params, mul_one)

fn_status fn_mul_s8(const fn_mul_params *p, const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                    const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
#if FN_USE_DSP
    mul_fast_params fast;
    if (p && mul_fast_prepare(p, &fast)) {
        return fn_binary_broadcast(mul_fast_row, &fast, in1_dims, in1, in2_dims, in2, out_dims, output);
    }
#endif
    return fn_binary_broadcast(mul_row, p, in1_dims, in1, in2_dims, in2, out_dims, output);
}
