/* CONV_2D int8, DSP build (Cortex-M4/M7): the assembly of the im2col block path (conv2d_s8_dsp.h).
 *
 * One weight row (int8) against 4 im2col columns (int16, interleaved in blocks,
 * see conv_internal.h). Written in assembly because the compiler spills the 4
 * accumulators + 2 unpacked weights + 4 column words + 3 pointers (13 registers)
 * to the stack; here they stay in registers, and LDM reads 2 columns' words in one
 * instruction: per 4 weights x 4 pixels (16 MACs) 1 LDR + 2 SXTB16 + 2 LDM +
 * 8 SMLAD, loop unrolled 4 times.
 */
#include "conv_internal.h"

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
 * advance past the row): 1 and 2 groups first as r2's low bits ask, then 4 per iteration (2
 * loop instructions per 64 MACs). Labels 6-9. */
#define FN_DOT_ROW                          \
    "tst r2, #1\n\t"                        \
    "beq 8f\n\t"                            \
    FN_DOT_GROUP                            \
    "8:\n\t"                                \
    "tst r2, #2\n\t"                        \
    "beq 6f\n\t"                            \
    FN_DOT_GROUP                            \
    FN_DOT_GROUP                            \
    "6:\n\t"                                \
    "lsrs r2, r2, #2\n\t"                   \
    "beq 9f\n\t"                            \
    "7:\n\t"                                \
    FN_DOT_GROUP                            \
    FN_DOT_GROUP                            \
    FN_DOT_GROUP                            \
    FN_DOT_GROUP                            \
    "subs r2, r2, #1\n\t"                   \
    "bne 7b\n\t"                            \
    "9:\n\t"

/* fn_requant_doubled of an accumulator ACC (doubled here) and __ssat: r10 multiplier, r9 addend,
 * r8 exponent, r11 scratch. SMMLAR adds the addend to SMMULR's high word in the same instruction;
 * the sign correction takes the doubled accumulator's sign rather than the high word's: they differ
 * only when the high word is 0 (a small negative accumulator), where (addend - 1) >> exponent and
 * addend >> exponent are both the output offset, so the bytes are fn_requant_doubled's. */
#define FN_REQUANT1(ACC)                            \
    "lsl " ACC ", " ACC ", #1\n\t"                  \
    "smmlar r11, " ACC ", r10, r9\n\t"              \
    "add " ACC ", r11, " ACC ", asr #31\n\t"        \
    "asr " ACC ", " ACC ", r8\n\t"                  \
    "ssat " ACC ", #8, " ACC "\n\t"

/* Naked: the body is the whole function (AAPCS: r0 w, r1 block, r2 groups >= 1, r3 acc; acc[0]
 * holds the seed on entry). */
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
 * requantizations with the channel's multiplier / exponent / addend in r10 / r8 / r9. The loop
 * index r3 (the one register FN_DOT_ROW leaves alone) runs from -4 * channels up to 0 against
 * pointers to the ends of bias / multiplier / shift / dst, so one ADDS ends the loop and one
 * load per parameter finds it. addend = (2 * output_offset + 1) << (exponent - 1), i.e.
 * fn_requant_addend, with exponent - 1 = ~shift. Stack: [sp] a frame of 9 words (below). */
FN_ASM_OFFSET(fn_conv_block_args, bias, 0);
FN_ASM_OFFSET(fn_conv_block_args, multiplier, 4);
FN_ASM_OFFSET(fn_conv_block_args, shift, 8);
FN_ASM_OFFSET(fn_conv_block_args, dst, 12);
FN_ASM_OFFSET(fn_conv_block_args, out_c, 16);
FN_ASM_OFFSET(fn_conv_block_args, channels, 20);
FN_ASM_OFFSET(fn_conv_block_args, block, 24);
FN_ASM_OFFSET(fn_conv_block_args, groups, 28);
FN_ASM_OFFSET(fn_conv_block_args, output_offset, 32);
__attribute__((naked)) void fn_conv_block_s8(FN_IN_ASM const int8_t *filter, FN_IN_ASM const fn_conv_block_args *args)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldm r1, {r2-r10}\n\t"     /* bias, multiplier, shift, dst, out_c, channels, block, groups, offset */
        "lsl r11, r7, #2\n\t"
        "add r2, r2, r11\n\t"      /* bias + channels */
        "add r3, r3, r11\n\t"      /* multiplier + channels */
        "add r4, r4, r11\n\t"      /* shift + channels */
        "add r5, r5, r7\n\t"       /* dst + channels */
        "lsl r10, r10, #1\n\t"
        "add r10, r10, #1\n\t"     /* 2 * output_offset + 1 */
        "push {r2-r10}\n\t"        /* #0 bias end, #4 multiplier end, #8 shift end, #12 dst end, #16 out_c,
                                       #20 channels, #24 block, #28 groups, #32 2 * offset + 1 */
        "rsb r3, r11, #0\n\t"      /* index: 4 * (channel - channels) */
        "1:\n\t"
        "ldr r4, [sp]\n\t"
        "ldr r4, [r4, r3]\n\t"     /* bias */
        "mov r5, r4\n\t"
        "mov r6, r4\n\t"
        "mov r7, r4\n\t"
        "ldr r1, [sp, #24]\n\t"
        "ldr r2, [sp, #28]\n\t"
        FN_DOT_ROW
        "ldr r10, [sp, #4]\n\t"
        "ldr r10, [r10, r3]\n\t"   /* multiplier */
        "ldr r8, [sp, #8]\n\t"
        "ldr r8, [r8, r3]\n\t"     /* shift (negative) */
        "mvn r12, r8\n\t"          /* exponent - 1 */
        "rsb r8, r8, #0\n\t"       /* exponent */
        "ldr r9, [sp, #32]\n\t"
        "lsl r9, r9, r12\n\t"      /* addend */
        FN_REQUANT1("r4") FN_REQUANT1("r5") FN_REQUANT1("r6") FN_REQUANT1("r7")
        "ldr r12, [sp, #12]\n\t"
        "ldr r11, [sp, #16]\n\t"
        "add r12, r12, r3, asr #2\n\t" /* dst + channel */
        "strb r4, [r12]\n\t"
        "strb r5, [r12, r11]\n\t"
        "add r12, r12, r11, lsl #1\n\t"
        "strb r6, [r12]\n\t"
        "strb r7, [r12, r11]\n\t"
        "adds r3, r3, #4\n\t"
        "bne 1b\n\t"
        "add sp, sp, #36\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* fn_conv_block_s8 over rows that carry their own parameters (conv2d_s8_dsp.h prepares them in the scratch
 * for K not a multiple of 4, e.g. RGB stems): per channel [bias][4 * groups weights, zero-padded][exponent]
 * [addend][multiplier]. One load seeds the accumulators and one LDM after the row brings the
 * requantization, 10 instructions per channel fewer than the separate arrays (16 MACs per group: on the
 * 27-value rows of a 3x3 RGB stem that is 0.09 instructions per MAC). Reads dst, out_c, channels, block and
 * groups of the args; the loop index r3 runs from -channels up to 0 against dst + channels. Stack: [sp] a
 * frame of 4 words. */
__attribute__((naked)) void fn_conv_block_rows_s8(FN_IN_ASM const int8_t *rows,
                                                  FN_IN_ASM const fn_conv_block_args *args)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "add r1, r1, #12\n\t"
        "ldm r1, {r2, r4-r7}\n\t"  /* dst, out_c, channels, block, groups */
        "add r2, r2, r5\n\t"       /* dst + channels */
        "rsb r3, r5, #0\n\t"       /* index: channel - channels */
        "push {r2, r4, r6, r7}\n\t" /* #0 dst end, #4 out_c, #8 block, #12 groups */
        "1:\n\t"
        "ldr r4, [r0], #4\n\t"     /* bias */
        "mov r5, r4\n\t"
        "mov r6, r4\n\t"
        "mov r7, r4\n\t"
        "ldr r1, [sp, #8]\n\t"
        "ldr r2, [sp, #12]\n\t"
        FN_DOT_ROW
        "ldm r0!, {r8, r9, r10}\n\t" /* exponent, addend, multiplier */
        FN_REQUANT1("r4") FN_REQUANT1("r5") FN_REQUANT1("r6") FN_REQUANT1("r7")
        "ldm sp, {r12, lr}\n\t"
        "add r12, r12, r3\n\t"     /* dst + channel */
        "strb r4, [r12]\n\t"
        "strb r5, [r12, lr]\n\t"
        "add r12, r12, lr, lsl #1\n\t"
        "strb r6, [r12]\n\t"
        "strb r7, [r12, lr]\n\t"
        "adds r3, r3, #1\n\t"
        "bne 1b\n\t"
        "add sp, sp, #16\n\t"
        "pop {r4-r11, pc}\n\t");
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dot_portable_build_has_no_dsp_core;
#endif
