/* SPLIT / SPLIT_V int8 (TFLM copies the bytes, whatever the quantization): CONCATENATION backwards. */
#include <string.h>

#include "../support/fn_internal.h"

fn_status fn_split_s8(int32_t count, int8_t *const *outputs, const int32_t *axis_sizes, int32_t outer, int32_t inner,
                      const int8_t *input)
{
    if (!outputs || !axis_sizes || !input || count < 1) {
        return FN_ERR_ARGUMENT;
    }
    if (outer < 1 || inner < 1) {
        return FN_ERR_SHAPE;
    }
    for (int32_t i = 0; i < count; ++i) {
        if (!outputs[i] || axis_sizes[i] < 1) {
            return FN_ERR_ARGUMENT;
        }
    }
    for (int32_t o = 0; o < outer; ++o) {
        for (int32_t i = 0; i < count; ++i) {
            const int32_t chunk = axis_sizes[i] * inner;
            memcpy(outputs[i] + o * chunk, input, (size_t)chunk);
            input += chunk;
        }
    }
    return FN_OK;
}
