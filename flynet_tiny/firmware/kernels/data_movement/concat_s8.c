/* CONCATENATION int8 (TFLM requires equal scale and zero point for int8 concatenation): copies. */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_concat_s8(int32_t count, const int8_t *const *inputs, const int32_t *axis_sizes, int32_t outer,
                       int32_t inner, int8_t *output)
{
    if (!inputs || !axis_sizes || !output || count < 1) {
        return FN_ERR_ARGUMENT;
    }
    if (outer < 1 || inner < 1) {
        return FN_ERR_SHAPE;
    }
    for (int32_t i = 0; i < count; ++i) {
        if (!inputs[i] || axis_sizes[i] < 1) {
            return FN_ERR_ARGUMENT;
        }
    }
    for (int32_t o = 0; o < outer; ++o) {
        for (int32_t i = 0; i < count; ++i) {
            const int32_t chunk = axis_sizes[i] * inner;
            memcpy(output, inputs[i] + o * chunk, (size_t)chunk);
            output += chunk;
        }
    }
    return FN_OK;
}
