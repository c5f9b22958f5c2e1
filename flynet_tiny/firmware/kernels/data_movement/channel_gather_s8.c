/* Channel gather int8: out[p][c] = in[p][map[c]] for every pixel p (the quantization is unchanged).
 * What a chain of RESHAPE / STRIDED_SLICE / SLICE / CONCATENATION ops computes when it only reorders
 * (or repeats) channels, e.g. MicroNet's channel shuffle or Shift-Max's channel shift, in one pass. */
#include "../support/fn_internal.h"

fn_status fn_channel_gather_s8(int32_t pixels, int32_t in_channels, int32_t out_channels, const int16_t *map,
                               const int8_t *input, int8_t *output)
{
    if (!map || !input || !output || pixels < 1 || in_channels < 1 || out_channels < 1) {
        return FN_ERR_ARGUMENT;
    }
    for (int32_t c = 0; c < out_channels; ++c) {
        if (map[c] < 0 || map[c] >= in_channels) {
            return FN_ERR_ARGUMENT;
        }
    }
    for (int32_t p = 0; p < pixels; ++p, input += in_channels, output += out_channels) {
        for (int32_t c = 0; c < out_channels; ++c) {
            output[c] = input[map[c]];
        }
    }
    return FN_OK;
}
