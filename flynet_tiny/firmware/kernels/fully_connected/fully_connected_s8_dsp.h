/* FULLY_CONNECTED int8, DSP path of fully_connected_s8.c (Cortex-M4/M7), which includes this file:
 * static functions that fn_fully_connected_s8 inlines (the assembly routine is naked, so never inlined). */
#ifndef FN_FULLY_CONNECTED_S8_DSP_H
#define FN_FULLY_CONNECTED_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* The DSP build's case (symmetric weights, TFLM's int8 FC): 4 output rows share each word of the
 * input, widened to int16 with the offset by 2 SXTAB16 once per 4 rows; each row's word of 4 weights
 * splits by SXTB16 (bytes 0, 2) and SXTB16 ror 8 (bytes 1, 3) into 2 SMLADs: 25 instructions per
 * 16 MACs. Rows 1-3 are loaded at w + n, w + 2n and (w + n) + 2n, so 2 pointers walk 4 rows. */
typedef struct {
    int32_t acc[4];
    int32_t row_bytes; /* n, the distance between rows */
    uint32_t offset2;  /* the input offset in both halfwords */
} fc_rows_args;
FN_ASM_OFFSET(fc_rows_args, acc, 0);
FN_ASM_OFFSET(fc_rows_args, row_bytes, 16);
FN_ASM_OFFSET(fc_rows_args, offset2, 20);

/* acc[r] += (4 * groups inputs + offset) . row r, r < 4; x and w: the first input and weight. */
__attribute__((naked, noinline)) static void fc_rows4(FN_IN_ASM const int8_t *x, FN_IN_ASM const int8_t *w,
                                                      FN_IN_ASM fc_rows_args *args, FN_IN_ASM int32_t groups)
{
    __asm__ volatile(
        "push {r2, r4-r11, lr}\n\t"
        "ldrd r4, r5, [r2]\n\t"
        "ldrd r6, r7, [r2, #8]\n\t"
        "ldrd r8, r9, [r2, #16]\n\t"     /* n, offset2 */
        "add r10, r1, r8\n\t"             /* row 1 */
        "1:\n\t"
        "ldr r11, [r0], #4\n\t"
        "sxtab16 r12, r9, r11\n\t"        /* inputs 0, 2 + offset */
        "sxtab16 r11, r9, r11, ror #8\n\t" /* inputs 1, 3 + offset */
        "ldr lr, [r1, r8, lsl #1]\n\t"    /* row 2 */
        "sxtb16 r2, lr\n\t"
        "smlad r6, r2, r12, r6\n\t"
        "sxtb16 lr, lr, ror #8\n\t"
        "smlad r6, lr, r11, r6\n\t"
        "ldr lr, [r10, r8, lsl #1]\n\t"   /* row 3 */
        "sxtb16 r2, lr\n\t"
        "smlad r7, r2, r12, r7\n\t"
        "sxtb16 lr, lr, ror #8\n\t"
        "smlad r7, lr, r11, r7\n\t"
        "ldr lr, [r10], #4\n\t"           /* row 1 */
        "sxtb16 r2, lr\n\t"
        "smlad r5, r2, r12, r5\n\t"
        "sxtb16 lr, lr, ror #8\n\t"
        "smlad r5, lr, r11, r5\n\t"
        "ldr lr, [r1], #4\n\t"            /* row 0 */
        "sxtb16 r2, lr\n\t"
        "smlad r4, r2, r12, r4\n\t"
        "sxtb16 lr, lr, ror #8\n\t"
        "smlad r4, lr, r11, r4\n\t"
        "subs r3, r3, #1\n\t"
        "bne 1b\n\t"
        "pop {r2}\n\t"
        "strd r4, r5, [r2]\n\t"
        "strd r6, r7, [r2, #8]\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* 4 rows' accumulators: the words through fc_rows4, the last n mod 4 inputs here. */
static void fc_dot4(const int8_t *x, int32_t n, const int8_t *w, int32_t input_offset, int32_t acc[4])
{
    fc_rows_args args = {{0, 0, 0, 0}, n, ((uint32_t)input_offset & 0xffffu) * 0x10001u};
    if (n >= 4) {
        fc_rows4(x, w, &args, n / 4);
    }
    for (int32_t r = 0; r < 4; ++r) {
        acc[r] = args.acc[r];
        for (int32_t i = n & ~3; i < n; ++i) {
            acc[r] += w[r * n + i] * (x[i] + input_offset);
        }
    }
}
#endif

#endif /* FN_FULLY_CONNECTED_S8_DSP_H */
