/* Table lookup int8, DSP helpers of lut_s8.c (Cortex-M4/M7), which includes this file. */
#ifndef FN_LUT_S8_DSP_H
#define FN_LUT_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* A byte in all 4 lanes. */
static inline uint32_t lanes(int32_t value) { return 0x01010101u * (uint8_t)value; }

/* Per signed byte lane: x clamped to [lo, hi]. SEL reads the GE flags SSUB8 just set, so each pair
 * stays together in one asm (the compiler sees no dependency through the flags). */
static inline uint32_t clamp_s8x4(uint32_t x, uint32_t lo4, uint32_t hi4)
{
    uint32_t ge;
    __asm__("ssub8 %1, %0, %2\n\t"
            "sel %0, %0, %2\n\t"
            "ssub8 %1, %3, %0\n\t"
            "sel %0, %0, %3"
            : "+r"(x), "=&r"(ge)
            : "r"(lo4), "r"(hi4)
            : "cc");
    return x;
}
#endif

#endif /* FN_LUT_S8_DSP_H */
