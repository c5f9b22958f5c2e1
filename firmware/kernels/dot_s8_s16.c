/* DSP helpers (Cortex-M4/M7): the dot-product core of the im2col-based conv, and the test for the
 * fast requantization.
 *
 * One weight row (int8) against 4 im2col columns (int16, interleaved in blocks,
 * see fn_internal.h). Written in assembly because the compiler spills the 4
 * accumulators + 2 unpacked weights + 4 column words + 3 pointers (13 registers)
 * to the stack; here they stay in registers, and LDM reads 2 columns' words in one
 * instruction: per 4 weights x 4 pixels (16 MACs) 1 LDR + 2 SXTB16 + 2 LDM +
 * 8 SMLAD, loop unrolled twice.
 */
#include "fn_internal.h"

#if FN_USE_DSP
/* 4 weights against the 4 columns of one group: r0 weights, r1 block, r4-r7 accumulators. */
#define FN_DOT_GROUP                        \
    "ldr r8, [r0], #4\n\t"                  \
    "sxtb16 r9, r8\n\t"                     \
    "sxtb16 r8, r8, ror #8\n\t"             \
    "ldm r1!, {r10, r11, r12, lr}\n\t"      \
    "smlad r4, r9, r10, r4\n\t"             \
    "smlad r4, r8, r11, r4\n\t"             \
    "smlad r5, r9, r12, r5\n\t"             \
    "smlad r5, r8, lr, r5\n\t"              \
    "ldm r1!, {r10, r11, r12, lr}\n\t"      \
    "smlad r6, r9, r10, r6\n\t"             \
    "smlad r6, r8, r11, r6\n\t"             \
    "smlad r7, r9, r12, r7\n\t"             \
    "smlad r7, r8, lr, r7\n\t"

/* Naked: the body is the whole function (AAPCS: r0 w, r1 block, r2 groups >= 1, r3 acc; acc[0]
 * holds the seed on entry). */
#define FN_IN_ASM __attribute__((unused))
__attribute__((naked)) void fn_dot_1x4_s8_s16(FN_IN_ASM const int8_t *w, FN_IN_ASM const int16_t *block,
                                               FN_IN_ASM int32_t groups, FN_IN_ASM int32_t acc[4])
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "push {r3}\n\t"
        "ldr r4, [r3]\n\t"
        "mov r5, r4\n\t"
        "mov r6, r4\n\t"
        "mov r7, r4\n\t"
        "tst r2, #1\n\t"
        "beq 2f\n\t"
        FN_DOT_GROUP
        "2:\n\t"
        "lsrs r2, r2, #1\n\t"
        "beq 3f\n\t"
        "1:\n\t"
        FN_DOT_GROUP
        FN_DOT_GROUP
        "subs r2, r2, #1\n\t"
        "bne 1b\n\t"
        "3:\n\t"
        "pop {r3}\n\t"
        "stm r3, {r4-r7}\n\t"
        "pop {r4-r11, pc}\n\t");
}

int fn_fast_requant_applies(const int32_t *bias, const int32_t *shifts, int32_t channels, int32_t products)
{
    int64_t largest_bias = 0;
    for (int32_t c = 0; c < channels; ++c) {
        const int64_t b = bias ? (bias[c] < 0 ? -(int64_t)bias[c] : bias[c]) : 0;
        largest_bias = b > largest_bias ? b : largest_bias;
        if (shifts[c] > -1 || shifts[c] < -22) {
            return 0;
        }
    }
    return largest_bias + (int64_t)products * 128 * 256 < ((int64_t)1 << 30);
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dot_portable_build_has_no_dsp_core;
#endif
