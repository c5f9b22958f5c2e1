/* MAXIMUM int8: TFLM compares raw values (both inputs share the output's quantization). */
#include "../support/fn_internal.h"

static int8_t max_one(const void *params, int8_t a, int8_t b)
{
    (void)params;
    return a > b ? a : b;
}

fn_status fn_maximum_s8(const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims, const int8_t *in2,
                        const fn_dims *out_dims, int8_t *output)
{
    static const int32_t no_params = 0;
    return fn_binary_broadcast(max_one, &no_params, in1_dims, in1, in2_dims, in2, out_dims, output);
}
