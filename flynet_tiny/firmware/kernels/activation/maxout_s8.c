/* Max-out over heads: out[g] = max of in[g*h .. g*h+h-1] (a channel's h adjacent heads, the
 * REDUCE_MAX of an MDW block left unfused). One pass with the common head counts unrolled;
 * the generic 1 x h max pool took ~50 instructions per output for the same bytes. */
#include "../support/fn_internal.h"

fn_status fn_maxout_s8(int32_t groups, int32_t heads, const int8_t *input, int8_t *output)
{
    if (!input || !output || groups < 0 || heads < 1) {
        return FN_ERR_ARGUMENT;
    }
    /* Output g is written after in[g*h ..] was read and lands on an index already read (g <= g*h),
     * so output may equal input. */
    const int8_t *in = input;
    int32_t g = 0;
    switch (heads) {
    case 2:
        for (; g < groups; ++g, in += 2) {
            output[g] = (int8_t)fn_max32(in[0], in[1]);
        }
        break;
    case 3:
        for (; g < groups; ++g, in += 3) {
            output[g] = (int8_t)fn_max32(fn_max32(in[0], in[1]), in[2]);
        }
        break;
    default:
        for (; g < groups; ++g, in += heads) {
            int32_t best = in[0];
            for (int32_t m = 1; m < heads; ++m) {
                best = fn_max32(best, in[m]);
            }
            output[g] = (int8_t)best;
        }
        break;
    }
    return FN_OK;
}
