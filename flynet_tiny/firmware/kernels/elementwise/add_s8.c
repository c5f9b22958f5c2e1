/* ADD int8 (TFLM reference_integer_ops::Add / BroadcastAdd): both operands are
 * shifted left by `left_shift` (20), rescaled to twice the larger input scale,
 * summed and requantized. */
#include "../support/fn_internal.h"
#include "elementwise_internal.h"

static inline int8_t add_one(const fn_add_params *p, int8_t a, int8_t b)
{
    const int32_t sum = fn_wrap_add(fn_rescaled_operand(a, p->input1_offset, p->left_shift, p->input1_multiplier,
                                                        p->input1_shift),
                                    fn_rescaled_operand(b, p->input2_offset, p->left_shift, p->input2_multiplier,
                                                        p->input2_shift));
    return fn_requant_s8(sum, p->output_multiplier, p->output_shift, p->output_offset, p->act_min, p->act_max);
}

FN_BINARY_ROW(add_row, fn_add_params, add_one)

fn_status fn_add_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                    const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
    return fn_add_sub_s8(p, 0, add_row, in1_dims, in1, in2_dims, in2, out_dims, output);
}
