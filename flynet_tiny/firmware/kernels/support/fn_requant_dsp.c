/* DSP build (Cortex-M4/M7): whether fn_requant_doubled (fn_internal.h) serves a whole layer. */
#include "fn_internal.h"

#if FN_USE_DSP
int fn_fast_requant_applies(const int32_t *bias, const int32_t *shifts, int32_t channels, int32_t products)
{
    int64_t largest_bias = 0;
    for (int32_t c = 0; c < channels; ++c) {
        const int64_t b = bias ? (bias[c] < 0 ? -(int64_t)bias[c] : bias[c]) : 0;
        largest_bias = b > largest_bias ? b : largest_bias;
        if (!fn_doubled_exponent(shifts[c])) {
            return 0;
        }
    }
    return largest_bias + (int64_t)products * 128 * 256 < ((int64_t)1 << 30);
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_requant_portable_build_has_no_dsp_test;
#endif
