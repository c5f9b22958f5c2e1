/* MUL int8 (TFLM reference_integer_ops::Mul / BroadcastMul). */
#include "../support/fn_internal.h"

static int8_t mul_one(const void *params, int8_t a, int8_t b)
{
    return fn_mul_s8_one((const fn_mul_params *)params, a, b);
}

fn_status fn_mul_s8(const fn_mul_params *p, const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                    const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
    return fn_binary_broadcast(mul_one, p, in1_dims, in1, in2_dims, in2, out_dims, output);
}
