/* AVERAGE_POOL_2D and MAX_POOL_2D int8, DSP path of pooling_s8.c (Cortex-M4/M7), which includes this file.
 *
 * 4 channels per step, with the window's taps in the inner loop: one word load per tap serves 4 channels.
 * Average: SXTAB16 adds bytes 0 and 2, SXTAB16 ROR 8 bytes 1 and 3 into two int16 pairs (exact for windows
 * of up to 256 taps: |sum| <= 256 x 128), then one division per channel with TFLM's rounding (half away
 * from zero, truncating division); max: SSUB8 + SEL keep the larger signed byte per lane. The 4 results
 * go out as one word, clamped to the activation range by SSUB8 + SEL. Channels past the last 4 take the
 * portable loop.
 */
#ifndef FN_POOLING_S8_DSP_H
#define FN_POOLING_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
#define FN_POOL_SIMD_TAPS 256 /* the most taps whose sums int16 lanes hold */

/* Per signed byte lane the larger of a and b (SEL reads the GE flags SSUB8 sets: one asm). */
static inline uint32_t max_s8x4(uint32_t a, uint32_t b)
{
    uint32_t ge;
    __asm__("ssub8 %1, %0, %2\n\t"
            "sel %0, %0, %2"
            : "+r"(a), "=&r"(ge)
            : "r"(b)
            : "cc");
    return a;
}

/* TFLM's average of `count` taps summing to `sum`: rounded half away from zero (branch-free: +half or
 * -half by the sum's sign; a zero sum gives 0 either way). */
static inline int32_t rounded_average(int32_t sum, int32_t half, int32_t count)
{
    const int32_t sign = sum >> 31;
    return (sum + ((half ^ sign) - sign)) / count;
}

/* The averages of the 4 channels whose sums are the int16 lanes of even (channels 0, 2) and odd (1, 3). */
static inline uint32_t averages(int32_t even, int32_t odd, int32_t count)
{
    const int32_t half = count / 2;
    const int32_t a0 = rounded_average((int16_t)even, half, count), a2 = rounded_average(even >> 16, half, count);
    const int32_t a1 = rounded_average((int16_t)odd, half, count), a3 = rounded_average(odd >> 16, half, count);
    return (uint32_t)(uint8_t)a0 | (uint32_t)(uint8_t)a1 << 8 | (uint32_t)(uint8_t)a2 << 16 | (uint32_t)(uint8_t)a3 << 24;
}

/* The window (rows x cols taps from x, rows `row` bytes apart, taps `col` apart) of `groups` (1 or 2, a
 * constant where inlined) groups of 4 channels of one output pixel, as 4 output bytes each into out[]. */
static inline __attribute__((always_inline)) void pool_groups(const int8_t *x, int32_t rows, int32_t cols,
                                                              int32_t row, int32_t col, int32_t count, int average,
                                                              int32_t groups, uint32_t out[2])
{
    if (average) {
        int32_t even0 = 0, odd0 = 0, even1 = 0, odd1 = 0;
        for (int32_t r = 0; r < rows; ++r, x += row) {
            const int8_t *p = x;
            for (int32_t k = 0; k < cols; ++k, p += col) {
                const uint32_t v = fn_read_u32(p);
                even0 = __sxtab16(even0, (int32_t)v);
                odd0 = fn_sxtab16_ror8(odd0, v);
                if (groups == 2) {
                    const uint32_t w = fn_read_u32(p + 4);
                    even1 = __sxtab16(even1, (int32_t)w);
                    odd1 = fn_sxtab16_ror8(odd1, w);
                }
            }
        }
        out[0] = averages(even0, odd0, count);
        if (groups == 2) {
            out[1] = averages(even1, odd1, count);
        }
        return;
    }
    uint32_t best0 = 0x80808080u, best1 = 0x80808080u;
    for (int32_t r = 0; r < rows; ++r, x += row) {
        const int8_t *p = x;
        for (int32_t k = 0; k < cols; ++k, p += col) {
            best0 = max_s8x4(best0, fn_read_u32(p));
            if (groups == 2) {
                best1 = max_s8x4(best1, fn_read_u32(p + 4));
            }
        }
    }
    out[0] = best0;
    out[1] = best1;
}

/* Channels 0..C - C mod 4 of one output pixel whose window has rows x cols taps from x (channel 0), 8 per
 * pass where there are 8; returns the channels done. */
static inline int32_t pool_pixel_dsp(const int8_t *x, int32_t channels, int32_t rows, int32_t cols, int32_t row,
                                     int32_t count, uint32_t lo4, uint32_t hi4, int clamp, int average,
                                     int8_t *out)
{
    if (average && count > FN_POOL_SIMD_TAPS) {
        return 0;
    }
    int32_t c = 0;
    uint32_t v[2];
    for (; c + 4 <= channels; c += 4) {
        const int two = c + 8 <= channels;
        if (two) {
            pool_groups(x + c, rows, cols, row, channels, count, average, 2, v);
        } else {
            pool_groups(x + c, rows, cols, row, channels, count, average, 1, v);
        }
        for (int32_t g = 0; g <= two; ++g) {
            const uint32_t y = clamp ? fn_clamp_s8x4(v[g], lo4, hi4) : v[g];
            __builtin_memcpy(out + c + 4 * g, &y, 4);
        }
        c += 4 * two;
    }
    return c;
}
#endif

#endif /* FN_POOLING_S8_DSP_H */
