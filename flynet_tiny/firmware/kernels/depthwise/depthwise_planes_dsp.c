/* Channel planes of the 3x3 and 5x5 depthwise / MDW DSP paths (Cortex-M4/M7): how many planes and
 * bytes a call takes, the zero-point fill and the 4-channel copy in assembly (the C copies are static
 * in depthwise_planes_dsp.h). */
#include "depthwise_planes_dsp.h"

#if FN_USE_DSP
/* Narrow maps (pitch <= 64) copy 4 channels at once into 4 planes: one word load per pixel serves 4
 * channels, and the per-row costs are shared; wider rows amortize those costs already and keep the
 * scratch at one plane (at most 4 x 1.2 KB this way). Small maps keep one plane too: the 3 extra
 * planes are taken only where they cost at most half the input map's bytes (an eighth for 5x5, whose
 * 25 taps per copied byte gain less from the faster copy), so the scratch never eats the SRAM the
 * fused MDW saves nor lifts the arena's peak at FlyNet's 5x5 layers. */
static int32_t plane_count(const fn_dims *in_dims, int32_t k)
{
    const int32_t map_bytes = in_dims->h * in_dims->w * in_dims->c;
    const int narrow = in_dims->c >= 4 && plane_pitch(in_dims->w) <= 64;
    const int32_t share = k == 3 ? 2 : 8;
    return narrow && share * 3 * one_plane_bytes(in_dims, k) <= map_bytes ? 4 : 1;
}

/* The other files call plane_count by this name, declared pure (depthwise_planes_dsp.h), so their
 * callers keep values across the call; this file's own caller keeps the static name. */
int32_t fn_dw_plane_count(const fn_dims *in_dims, int32_t k) __attribute__((alias("plane_count")));

/* 0 where a 5x5 layer keeps the per-pixel path because one plane would outweigh its whole input map
 * (few channels on a wide map: the plane would lift the arena for little gain). */
int32_t fn_dw_plane_bytes(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    const int32_t k = filter_dims->h;
    const int32_t one = one_plane_bytes(in_dims, k);
    if (k == 5 && one > in_dims->h * in_dims->w * in_dims->c) {
        return 0;
    }
    return plane_count(in_dims, k) * one;
}

/* The whole 4-pixel groups of `rows` input rows of 4 adjacent channels into 4 planes: per group 4 word
 * loads (a..d: pixels 0..3, 4 channels each), a 4 x 4 byte transpose and 4 word stores, 23
 * instructions. Transpose: t0 = (a0 a1 c0 c1), t1 = (a2 a3 c2 c3), t2 = (b0 b1 d0 d1), t3 = (b2 b3 d2 d3)
 * by PKHBT / PKHTB; then channel 0 = ((t2 << 8) & 0xff00ff00) + UXTB16(t0), channel 1 =
 * (t2 & 0xff00ff00) + UXTB16(t0 ror 8) (UXTAB16: the bytes do not overlap), 2 and 3 the same from
 * t1, t3. r0 plane, r1 input, r2 channels, r3 plane_step, r8 = 3 channels, r9 = 3 plane_step, r10
 * the mask, r11 the row's end. */
FN_ASM_OFFSET(fn_dw_copy4_rows, channels, 0);
FN_ASM_OFFSET(fn_dw_copy4_rows, plane_step, 4);
FN_ASM_OFFSET(fn_dw_copy4_rows, group_bytes, 8);
FN_ASM_OFFSET(fn_dw_copy4_rows, rows, 12);
FN_ASM_OFFSET(fn_dw_copy4_rows, dst_skip, 16);
FN_ASM_OFFSET(fn_dw_copy4_rows, src_skip, 20);
__attribute__((naked)) void fn_dw_copy_4channel_rows(FN_IN_ASM int8_t *dst, FN_IN_ASM const int8_t *src,
                                             FN_IN_ASM const fn_dw_copy4_rows *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "add r4, r2, #8\n\t"
                     "ldm r4, {r4-r7}\n\t"
                     "push {r4-r7}\n\t"
                     "ldm r2, {r2, r3}\n\t"
                     "add r8, r2, r2, lsl #1\n\t"
                     "add r9, r3, r3, lsl #1\n\t"
                     "mov r10, #0xff00ff00\n\t"
                     "3:\n\t"
                     "ldr r11, [sp]\n\t"
                     "add r11, r11, r0\n\t"
                     "1:\n\t"
                     "ldr r4, [r1]\n\t"
                     "ldr r5, [r1, r2]\n\t"
                     "ldr r6, [r1, r2, lsl #1]\n\t"
                     "ldr r7, [r1, r8]\n\t"
                     "pkhbt r12, r4, r6, lsl #16\n\t"
                     "pkhtb lr, r6, r4, asr #16\n\t"
                     "pkhbt r4, r5, r7, lsl #16\n\t"
                     "pkhtb r6, r7, r5, asr #16\n\t"
                     "and r5, r10, r4, lsl #8\n\t"
                     "uxtab16 r5, r5, r12\n\t"
                     "and r7, r4, r10\n\t"
                     "uxtab16 r7, r7, r12, ror #8\n\t"
                     "and r4, r10, r6, lsl #8\n\t"
                     "uxtab16 r4, r4, lr\n\t"
                     "and r6, r6, r10\n\t"
                     "uxtab16 r6, r6, lr, ror #8\n\t"
                     "str r7, [r0, r3]\n\t"
                     "str r4, [r0, r3, lsl #1]\n\t"
                     "str r6, [r0, r9]\n\t"
                     "str r5, [r0], #4\n\t"
                     "add r1, r1, r2, lsl #2\n\t"
                     "cmp r0, r11\n\t"
                     "bne 1b\n\t"
                     "ldr r4, [sp, #8]\n\t"
                     "add r0, r0, r4\n\t"
                     "ldr r4, [sp, #12]\n\t"
                     "add r1, r1, r4\n\t"
                     "ldr r4, [sp, #4]\n\t"
                     "subs r4, r4, #1\n\t"
                     "str r4, [sp, #4]\n\t"
                     "bne 3b\n\t"
                     "add sp, sp, #16\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/* Every byte of `bytes` (a multiple of 4, word-aligned) of plane memory to the zero point zp4 (4 copies):
 * one STM per 16 bytes. */
__attribute__((naked)) void fn_dw_fill_zero_point(FN_IN_ASM int8_t *plane, FN_IN_ASM int32_t bytes,
                                                   FN_IN_ASM uint32_t zp4)
{
    __asm__ volatile("push {r4, r5}\n\t"
                     "mov r3, r2\n\t"
                     "mov r4, r2\n\t"
                     "mov r5, r2\n\t"
                     "lsrs r12, r1, #4\n\t"
                     "beq 2f\n\t"
                     "1:\n\t"
                     "stm r0!, {r2-r5}\n\t"
                     "subs r12, r12, #1\n\t"
                     "bne 1b\n\t"
                     "2:\n\t"
                     "ands r1, r1, #12\n\t"
                     "beq 4f\n\t"
                     "3:\n\t"
                     "str r2, [r0], #4\n\t"
                     "subs r1, r1, #4\n\t"
                     "bne 3b\n\t"
                     "4:\n\t"
                     "pop {r4, r5}\n\t"
                     "bx lr\n\t");
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dw_planes_portable_build_has_no_dsp_path;
#endif
