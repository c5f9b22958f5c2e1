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

/* acc (r4-r7) += weight row . the 4 columns for r2 >= 1 groups (r0 weights, r1 block; both
 * advance past the row), unrolled twice. Labels 7-9. */
#define FN_DOT_ROW                          \
    "tst r2, #1\n\t"                        \
    "beq 8f\n\t"                            \
    FN_DOT_GROUP                            \
    "8:\n\t"                                \
    "lsrs r2, r2, #1\n\t"                   \
    "beq 9f\n\t"                            \
    "7:\n\t"                                \
    FN_DOT_GROUP                            \
    FN_DOT_GROUP                            \
    "subs r2, r2, #1\n\t"                   \
    "bne 7b\n\t"                            \
    "9:\n\t"

/* fn_requant_doubled of an accumulator ACC (doubled here) and __ssat: r10 multiplier, r9 addend,
 * r8 exponent, r11 scratch. */
#define FN_REQUANT1(ACC)                            \
    "lsl " ACC ", " ACC ", #1\n\t"                  \
    "smmulr " ACC ", " ACC ", r10\n\t"              \
    "add r11, " ACC ", r9\n\t"                      \
    "add " ACC ", r11, " ACC ", asr #31\n\t"        \
    "asr " ACC ", " ACC ", r8\n\t"                  \
    "ssat " ACC ", #8, " ACC "\n\t"

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
        FN_DOT_ROW
        "pop {r3}\n\t"
        "stm r3, {r4-r7}\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* Every output channel of a full block, requantized with fn_requant_doubled and __ssat (the
 * conv's fast, full-range case): per channel the bias seeds r4-r7, FN_DOT_ROW, then the 4
 * requantizations with the channel's multiplier / exponent / addend in r10 / r8 / r9. The
 * pointers and counts live on the stack ([sp] = a copy of *args). */
__attribute__((naked)) void fn_conv_block_s8(FN_IN_ASM const int8_t *filter, FN_IN_ASM const fn_conv_block_args *args)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldm r1, {r2-r10}\n\t"
        "push {r2-r10}\n\t" /* bias, multiplier, shift, dst, out_c, channels, block, groups, output_offset */
        "1:\n\t"
        "ldr r3, [sp]\n\t"
        "ldr r4, [r3], #4\n\t"
        "str r3, [sp]\n\t"
        "mov r5, r4\n\t"
        "mov r6, r4\n\t"
        "mov r7, r4\n\t"
        "ldr r1, [sp, #24]\n\t"
        "ldr r2, [sp, #28]\n\t"
        FN_DOT_ROW
        "ldr r3, [sp, #8]\n\t"
        "ldr r8, [r3], #4\n\t"
        "str r3, [sp, #8]\n\t"
        "rsb r8, r8, #0\n\t"        /* exponent */
        "ldr r9, [sp, #32]\n\t"
        "lsl r9, r9, r8\n\t"        /* output_offset << exponent */
        "sub r10, r8, #1\n\t"
        "mov r11, #1\n\t"
        "lsl r10, r11, r10\n\t"
        "add r9, r9, r10\n\t"       /* addend */
        "ldr r3, [sp, #4]\n\t"
        "ldr r10, [r3], #4\n\t"     /* multiplier */
        "str r3, [sp, #4]\n\t"
        FN_REQUANT1("r4") FN_REQUANT1("r5") FN_REQUANT1("r6") FN_REQUANT1("r7")
        "ldr r3, [sp, #12]\n\t"
        "ldr r11, [sp, #16]\n\t"
        "strb r4, [r3]\n\t"
        "strb r5, [r3, r11]\n\t"
        "add r12, r3, r11, lsl #1\n\t"
        "strb r6, [r12]\n\t"
        "strb r7, [r12, r11]\n\t"
        "add r3, r3, #1\n\t"
        "str r3, [sp, #12]\n\t"
        "ldr r3, [sp, #20]\n\t"
        "subs r3, r3, #1\n\t"
        "str r3, [sp, #20]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #36\n\t"
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
