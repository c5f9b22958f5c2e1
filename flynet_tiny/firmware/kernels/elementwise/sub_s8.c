/* SUB int8 (TFLM reference_ops::Sub / BroadcastQuantSubSlow): ADD's rescaling (left shift 20, both
 * operands to twice the larger input scale), then the difference requantized; ADD's parameters. */
#include "../support/fn_internal.h"
#include "elementwise_internal.h"

static inline int8_t sub_one(const fn_add_params *p, int8_t a, int8_t b)
{
    const int32_t difference =
        fn_wrap_sub(fn_rescaled_operand(a, p->input1_offset, p->left_shift, p->input1_multiplier, p->input1_shift),
                    fn_rescaled_operand(b, p->input2_offset, p->left_shift, p->input2_multiplier, p->input2_shift));
    return fn_requant_s8(difference, p->output_multiplier, p->output_shift, p->output_offset, p->act_min,
                         p->act_max);
}

FN_BINARY_ROW(sub_row, fn_add_params, sub_one)

fn_status fn_sub_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                    const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
    return fn_add_sub_s8(p, 1, sub_row, in1_dims, in1, in2_dims, in2, out_dims, output);
}
