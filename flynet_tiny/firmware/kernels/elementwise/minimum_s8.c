/* MINIMUM int8: TFLM compares the raw values, whatever the operands' quantization (the converter gives
 * both and the output one). */
#include "../support/fn_internal.h"

static inline int8_t min_one(const int32_t *unused, int8_t a, int8_t b)
{
    (void)unused;
    return a < b ? a : b;
}

FN_BINARY_ROW(min_row, int32_t, min_one)

fn_status fn_minimum_s8(const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims, const int8_t *in2,
                        const fn_dims *out_dims, int8_t *output)
{
    static const int32_t no_params = 0;
    return fn_binary_broadcast(min_row, &no_params, in1_dims, in1, in2_dims, in2, out_dims, output);
}
