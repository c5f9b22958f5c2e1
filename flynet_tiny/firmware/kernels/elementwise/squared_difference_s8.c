/* SQUARED_DIFFERENCE int8 (TFLM squared_difference.cc): the operands rescaled as ADD's with left
 * shift 7, their difference squared (at most 2^30) and requantized; the output range is all of int8. */
#include "../support/fn_internal.h"

static inline int8_t squared_difference_one(const fn_add_params *p, int8_t a, int8_t b)
{
    const int32_t difference =
        fn_wrap_sub(fn_rescaled_operand(a, p->input1_offset, p->left_shift, p->input1_multiplier, p->input1_shift),
                    fn_rescaled_operand(b, p->input2_offset, p->left_shift, p->input2_multiplier, p->input2_shift));
    return fn_requant_s8(difference * difference, p->output_multiplier, p->output_shift, p->output_offset,
                         p->act_min, p->act_max);
}

FN_BINARY_ROW(squared_difference_row, fn_add_params, squared_difference_one)

fn_status fn_squared_difference_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1,
                                   const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims,
                                   int8_t *output)
{
    /* |difference| <= 2^15 needs the operands' left shift at most 7 (TFLM's value). */
    if (p && (p->left_shift < 0 || p->left_shift > 7)) {
        return FN_ERR_ARGUMENT;
    }
    return fn_binary_broadcast(squared_difference_row, p, in1_dims, in1, in2_dims, in2, out_dims, output);
}
