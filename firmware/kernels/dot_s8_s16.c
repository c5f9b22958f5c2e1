/* DSP dot-product cores shared by the im2col-based kernels. */
#include "fn_internal.h"

#if FN_USE_DSP
void fn_dot_2x2_s8_s16(const int8_t *w0, const int8_t *w1, const int16_t *c0, const int16_t *c1,
                       int32_t k, int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    int32_t i = 0;
    for (; i + 4 <= k; i += 4) {
        const uint32_t wa = fn_read_u32(w0 + i);
        const uint32_t wb = fn_read_u32(w1 + i);
        const int32_t wa_even = __sxtb16((int32_t)wa), wa_odd = fn_sxtb16_ror8(wa);
        const int32_t wb_even = __sxtb16((int32_t)wb), wb_odd = fn_sxtb16_ror8(wb);
        const int32_t x0_even = fn_read_pair(c0 + i), x0_odd = fn_read_pair(c0 + i + 2);
        const int32_t x1_even = fn_read_pair(c1 + i), x1_odd = fn_read_pair(c1 + i + 2);
        a00 = __smlad(wa_even, x0_even, a00);
        a00 = __smlad(wa_odd, x0_odd, a00);
        a01 = __smlad(wa_even, x1_even, a01);
        a01 = __smlad(wa_odd, x1_odd, a01);
        a10 = __smlad(wb_even, x0_even, a10);
        a10 = __smlad(wb_odd, x0_odd, a10);
        a11 = __smlad(wb_even, x1_even, a11);
        a11 = __smlad(wb_odd, x1_odd, a11);
    }
    for (; i < k; ++i) {
        a00 += w0[i] * c0[i];
        a01 += w0[i] * c1[i];
        a10 += w1[i] * c0[i];
        a11 += w1[i] * c1[i];
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

int32_t fn_dot_1x1_s8_s16(const int8_t *w, const int16_t *c, int32_t k)
{
    int32_t acc = 0;
    int32_t i = 0;
    for (; i + 4 <= k; i += 4) {
        const uint32_t wv = fn_read_u32(w + i);
        acc = __smlad(__sxtb16((int32_t)wv), fn_read_pair(c + i), acc);
        acc = __smlad(fn_sxtb16_ror8(wv), fn_read_pair(c + i + 2), acc);
    }
    for (; i < k; ++i) {
        acc += w[i] * c[i];
    }
    return acc;
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dot_portable_build_has_no_dsp_core;
#endif
