/* Any int8 -> int8 function of one value (HARD_SWISH, LOGISTIC) through a table.
 * The code generator fills the table at build time by running the fixed-point kernel
 * (hard_swish_s8.c, logistic_s8.c) on every input value, so the result is the same bytes for
 * a tenth of the instructions, and the fixed-point code is not linked at all. The table keeps
 * only lo..hi: below lo (and above hi) the function is constant (hard-swish's zero below -3,
 * a sigmoid's saturated ends), so clamping the input first gives the same bytes from a table
 * about a third smaller (flash the 19 tables of FlyNet could not spare). */
#include "../support/fn_internal.h"
#include "lut_s8_dsp.h"

fn_status fn_lut_s8(const int8_t *table, int32_t lo, int32_t hi, int32_t size, const int8_t *input, int8_t *output)
{
    if (!table || !input || !output || size < 0 || lo < FN_INT8_MIN || hi > FN_INT8_MAX || lo > hi) {
        return FN_ERR_ARGUMENT;
    }
    int32_t i = 0;
#if FN_USE_DSP
    /* 4 values per word: signed byte max / min by SSUB8 + SEL, then USUB8 makes each lane its
     * index x - lo (0..hi-lo). Lane k of the result comes from lane k of the word read, and a
     * word is read before it is written, so in place is safe. */
    const uint8_t *entry = (const uint8_t *)table;
    const uint32_t lo4 = lanes(lo), hi4 = lanes(hi);
    for (; i + 4 <= size; i += 4) {
        const uint32_t index = __usub8(clamp_s8x4(fn_read_u32(input + i), lo4, hi4), lo4);
        const uint32_t mapped = (uint32_t)entry[index & 0xff] | (uint32_t)entry[(index >> 8) & 0xff] << 8 |
                                (uint32_t)entry[(index >> 16) & 0xff] << 16 | (uint32_t)entry[index >> 24] << 24;
        __builtin_memcpy(output + i, &mapped, 4);
    }
#endif
    for (; i < size; ++i) {
        output[i] = table[fn_clamp32(input[i], lo, hi) - lo];
    }
    return FN_OK;
}

/* A table that is the identity between its constant ends needs no table: RELU6 and RELU on their input's
 * quantization, MINIMUM / MAXIMUM with a constant. The DSP path clamps 4 lanes per word. */
fn_status fn_clamp_s8(int32_t lo, int32_t hi, int32_t size, const int8_t *input, int8_t *output)
{
    if (!input || !output || size < 0 || lo < FN_INT8_MIN || hi > FN_INT8_MAX || lo > hi) {
        return FN_ERR_ARGUMENT;
    }
    int32_t i = 0;
#if FN_USE_DSP
    const uint32_t lo4 = lanes(lo), hi4 = lanes(hi);
    for (; i + 4 <= size; i += 4) {
        const uint32_t clamped = clamp_s8x4(fn_read_u32(input + i), lo4, hi4);
        __builtin_memcpy(output + i, &clamped, 4);
    }
#endif
    for (; i < size; ++i) {
        output[i] = (int8_t)fn_clamp32(input[i], lo, hi);
    }
    return FN_OK;
}
