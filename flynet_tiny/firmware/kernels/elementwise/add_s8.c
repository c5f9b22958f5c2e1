/* ADD int8 (TFLM reference_integer_ops::Add / BroadcastAdd): both operands are
 * shifted left by `left_shift` (20), rescaled to twice the larger input scale,
 * summed and requantized. */
#include "../support/fn_internal.h"
#include "add_s8_dsp.h"

static int8_t add_one(const void *params, int8_t a, int8_t b)
{
    const fn_add_params *p = (const fn_add_params *)params;
    const int32_t sum = fn_wrap_add(fn_add_s8_operand(a, p->input1_offset, p->left_shift, p->input1_multiplier,
                                                      p->input1_shift),
                                    fn_add_s8_operand(b, p->input2_offset, p->left_shift, p->input2_multiplier,
                                                      p->input2_shift));
    return fn_requant_s8(sum, p->output_multiplier, p->output_shift, p->output_offset, p->act_min, p->act_max);
}

fn_status fn_add_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                    const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
    if (p && (p->left_shift < 0 || p->left_shift > 30)) {
        return FN_ERR_ARGUMENT;
    }
#if FN_USE_DSP
    add_fast_params fast;
    int swap;
    if (p && add_fast_prepare(p, &fast, &swap)) {
        return add_fast(&fast, swap, in1_dims, in1, in2_dims, in2, out_dims, output);
    }
#endif
    return fn_binary_broadcast(add_one, p, in1_dims, in1, in2_dims, in2, out_dims, output);
}
