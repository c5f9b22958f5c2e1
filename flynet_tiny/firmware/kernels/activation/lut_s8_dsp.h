/* Table lookup int8, DSP helpers of lut_s8.c (Cortex-M4/M7), which includes this file. */
#ifndef FN_LUT_S8_DSP_H
#define FN_LUT_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* A byte in all 4 lanes, and per signed byte lane x clamped to [lo, hi]: the shared helpers of
 * support/fn_internal.h (the conv, depthwise and pooling paths clamp whole outputs with them too). */
static inline uint32_t lanes(int32_t value) { return fn_lanes(value); }
static inline uint32_t clamp_s8x4(uint32_t x, uint32_t lo4, uint32_t hi4) { return fn_clamp_s8x4(x, lo4, hi4); }
#endif

#endif /* FN_LUT_S8_DSP_H */
