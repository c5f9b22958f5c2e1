/* MUL int8 (TFLM reference_integer_ops::Mul / BroadcastMul). */
#include "../support/fn_internal.h"

static int8_t mul_one(const void *params, int8_t a, int8_t b)
{
    const fn_mul_params *p = (const fn_mul_params *)params;
    const int32_t product = ((int32_t)a + p->input1_offset) * ((int32_t)b + p->input2_offset);
    return fn_requant_s8(product, p->output_multiplier, p->output_shift, p->output_offset, p->act_min, p->act_max);
}

fn_status fn_mul_s8(const fn_mul_params *p, const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                    const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
    return fn_binary_broadcast(mul_one, p, in1_dims, in1, in2_dims, in2, out_dims, output);
}
