/* 3x3 depthwise conv and fused MDW + Max-out on Cortex-M4/M7 (DSP path), any heads, stride 1 or 2.
 *
 * Channel group by channel group (4 adjacent channels, or one), band by band of output rows (up to 16
 * at stride 1, 8 at stride 2): the band's input rows of the group are copied into planes (on maps up
 * to 56 wide, where 3 more planes cost at most half the input map, 4 channels at once into 4 planes,
 * one word load per pixel and a byte transpose in assembly; int8, rows PITCH bytes apart, the padding
 * filled with the input zero point, so a padded tap adds (zp + offset) * w = 0 like TFLM's skipped
 * tap, and no window needs a border check). A group's weights and requantization are prepared once
 * for all its bands. One 32-bit load of a plane row holds x0..x3 of a window: __sxtb16 gives (x0, x2)
 * and __sxtb16(ror 8) gives (x1, x3), so SMLAD multiplies taps 0 and 2 of a filter row with its
 * weights packed as (w0, w2) and SMLABB / SMLATB adds tap 1; at stride 1 the same load serves the
 * next output pixel ((x1, x3) and x2), and a plane row serves two output rows. The input offset goes
 * into the bias (offset * sum of the 9 weights); the weights are doubled so the accumulator is
 * 2 * acc, as fn_requant_doubled wants. The assembly kernels compute 2 output rows x 2 pixels per
 * iteration, one call covering a group's channels (per head); an odd width's last pixel takes the
 * column kernel (2 rows x 1 pixel), an odd band's last row the row kernel (1 row x 2 pixels), and only
 * the pixel both miss is computed twice (same value). Each head of a channel reuses the channel's
 * plane; MDW keeps the running max over heads in the output. Sums are exact, so the bytes equal the
 * portable path's.
 */
#include "depthwise_planes_dsp.h"

#if FN_USE_DSP
int fn_dw3x3_applies(const fn_dims *filter_dims) { return filter_dims->h == 3 && filter_dims->w == 3; }

/* One output channel's weights, doubled and packed for the plane loads, and its requantization.
 * Offsets are read by the assembly: keep the order. */
typedef struct {
    int32_t w02[3]; /* #0..#8: (2 w[r][0], 2 w[r][2]) per filter row r */
    int32_t w1_01;  /* #12: (2 w[0][1], 2 w[1][1]) */
    int32_t w1_2;   /* #16: 2 w[2][1] in the bottom half (the kernels count pixel pairs in the top half) */
    /* #20..#32: fn_requant_doubled's exponent; bias2 = 2 * (bias + offset * sum w); multiplier, addend */
    int32_t exponent, bias2, multiplier, addend;
} dw_channel;
FN_ASM_OFFSET(dw_channel, w02, 0);
FN_ASM_OFFSET(dw_channel, w1_01, 12);
FN_ASM_OFFSET(dw_channel, w1_2, 16);
FN_ASM_OFFSET(dw_channel, exponent, 20);
FN_ASM_OFFSET(dw_channel, bias2, 24);
FN_ASM_OFFSET(dw_channel, multiplier, 28);
FN_ASM_OFFSET(dw_channel, addend, 32);
FN_ASM_SIZE(dw_channel, 36); /* prepare_channels writes 9 words per channel */

/* What every channel of a band shares: bytes between output rows and pixels, the 2-row kernels' row
 * pairs, from the end of one row pair to the start of the next in the plane and in the output, and
 * pairs << 16 (restores the counter in w1_2's top half); then the channels one call covers and the bytes
 * from one to the next in the planes, in the output and in the dw_channel array. Offsets are read by
 * the assembly. */
typedef struct {
    int32_t out_row, out_stride, row_pairs, in_skip, out_skip, pairs_top;
    int32_t channels, plane_step, dst_step, d_step;
} dw_frame;
FN_ASM_OFFSET(dw_frame, out_row, 0);
FN_ASM_OFFSET(dw_frame, out_stride, 4);
FN_ASM_OFFSET(dw_frame, row_pairs, 8);
FN_ASM_OFFSET(dw_frame, in_skip, 12);
FN_ASM_OFFSET(dw_frame, out_skip, 16);
FN_ASM_OFFSET(dw_frame, pairs_top, 20);
FN_ASM_OFFSET(dw_frame, channels, 24);
FN_ASM_OFFSET(dw_frame, plane_step, 28);
FN_ASM_OFFSET(dw_frame, dst_step, 32);
FN_ASM_OFFSET(dw_frame, d_step, 36);

/* What prepare_channels walks besides the weights: the next channel's shift, multiplier and bias (bias
 * moves on by bias_step: 4, or 0 with a zero for a missing bias), the offsets, and the end of the
 * dw_channel array. Offsets are read by the assembly. */
typedef struct {
    const int32_t *shift, *multiplier, *bias;
    int32_t bias_step, input_offset, output_offset;
    const dw_channel *end;
} dw_prepare_walk;
FN_ASM_OFFSET(dw_prepare_walk, shift, 0);
FN_ASM_OFFSET(dw_prepare_walk, multiplier, 4);
FN_ASM_OFFSET(dw_prepare_walk, bias, 8);
FN_ASM_OFFSET(dw_prepare_walk, bias_step, 12);
FN_ASM_OFFSET(dw_prepare_walk, input_offset, 16);
FN_ASM_OFFSET(dw_prepare_walk, output_offset, 20);
FN_ASM_OFFSET(dw_prepare_walk, end, 24);

/* The weights and requantization of the output channels from d to walk->end, their first weight at w
 * (taps tap_stride apart), in assembly (C spills: 67 instructions per channel, here 47). Per channel:
 * 9 LDRSB, PKHBT + SADD16 pack (w0, w2) / (w01, w11) doubled (|2 w| <= 256: no carry between the
 * halves), SMLAD with (1, 1) adds the packed weights up (2 sum), one STM of the weights; then
 * exponent = -shift, bias2 = 2 bias + input_offset * 2 sum, the multiplier, addend = 2^(e - 1) +
 * (output_offset << e) (fn_requant_addend), one STM. r0 d, r1 w, r2 tap_stride, r3 2 tap_stride, r12
 * 3 tap_stride; the walk is copied to the stack (#0..#24). */
__attribute__((naked)) static void prepare_channels(FN_IN_ASM dw_channel *d, FN_IN_ASM const int8_t *w,
                                                    FN_IN_ASM int32_t tap_stride, FN_IN_ASM dw_prepare_walk *walk)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "ldm r3, {r4-r10}\n\t"
                     "push {r4-r10}\n\t"
                     "lsl r3, r2, #1\n\t"
                     "add r12, r2, r2, lsl #1\n\t"
                     "1:\n\t"
                     "ldrsb r4, [r1]\n\t"
                     "ldrsb r5, [r1, r3]\n\t"
                     "ldrsb r8, [r1, r2]\n\t"
                     "add lr, r1, r12\n\t"
                     "ldrsb r6, [lr]\n\t"
                     "ldrsb r7, [lr, r3]\n\t"
                     "ldrsb r9, [lr, r2]\n\t"
                     "add lr, lr, r12\n\t"
                     "ldrsb r10, [lr]\n\t"
                     "ldrsb r11, [lr, r3]\n\t"
                     "ldrsb lr, [lr, r2]\n\t"
                     "pkhbt r4, r4, r5, lsl #16\n\t"
                     "pkhbt r5, r6, r7, lsl #16\n\t"
                     "pkhbt r6, r10, r11, lsl #16\n\t"
                     "pkhbt r7, r8, r9, lsl #16\n\t"
                     "sadd16 r4, r4, r4\n\t"
                     "sadd16 r5, r5, r5\n\t"
                     "sadd16 r6, r6, r6\n\t"
                     "sadd16 r7, r7, r7\n\t"
                     "lsl r9, lr, #1\n\t"
                     "uxth r8, r9\n\t"
                     "stm r0!, {r4-r8}\n\t"
                     "mov r11, #0x00010001\n\t"
                     "smlad r9, r4, r11, r9\n\t"
                     "smlad r9, r5, r11, r9\n\t"
                     "smlad r9, r6, r11, r9\n\t"
                     "smlad r9, r7, r11, r9\n\t"
                     "ldm sp, {r4, r5, r6, r10, r11, lr}\n\t"
                     "mul r9, r9, r11\n\t"
                     "ldr r11, [r6]\n\t"
                     "add r6, r6, r10\n\t"
                     "ldr r7, [r4], #4\n\t"
                     "rsb r7, r7, #0\n\t"
                     "add r8, r9, r11, lsl #1\n\t"
                     "ldr r9, [r5], #4\n\t"
                     "sub r11, r7, #1\n\t"
                     "mov r10, #1\n\t"
                     "lsl r10, r10, r11\n\t"
                     "lsl r11, lr, r7\n\t"
                     "add r10, r10, r11\n\t"
                     "stm r0!, {r7-r10}\n\t"
                     "stm sp, {r4, r5, r6}\n\t"
                     "add r1, r1, #1\n\t"
                     "ldr r4, [sp, #24]\n\t"
                     "cmp r0, r4\n\t"
                     "bne 1b\n\t"
                     "add sp, sp, #28\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/* Output channels oc0..oc0 + n - 1 (n >= 1) into d. */
static void prepare_group(dw_channel *d, int32_t n, int32_t oc0, const int8_t *filter, int32_t total,
                          const int32_t *bias, const fn_channel_quant *q, const fn_conv_params *p)
{
    static const int32_t no_bias = 0;
    dw_prepare_walk walk = {q->shift + oc0, q->multiplier + oc0, bias ? bias + oc0 : &no_bias, bias ? 4 : 0,
                            p->input_offset, p->output_offset, d + n};
    prepare_channels(d, filter + oc0, total, &walk);
}

/* ---- Assembly kernels: full int8 output range, everything in registers (the compiler spills these
 * loops). r0 window start in plane row 0, r2 output, r4-r8 packed weights, r9-r12 accumulators, r1,
 * r3 and lr working registers; requantization and loop values on the stack. STORE4 puts the 4 int8
 * results (row 0: r9, r10 to [r2], [r2 + lr]; row 1: A, B to [r3], [r3 + lr]) to the output: plain
 * stores, or (MDW heads after the first) the larger of each and the stored value. The first max
 * compares words (r1 free by then); the others take SSUB8's GE flag and SEL with the result stored
 * before as the scratch register (one instruction less). */
#define FN_STORE4_PLAIN(A, B)                                                                        \
    "strb r9, [r2]\n\t"                                                                              \
    "strb r10, [r2, lr]\n\t"                                                                         \
    "strb " A ", [r3]\n\t"                                                                           \
    "strb " B ", [r3, lr]\n\t"
#define FN_STORE4_MAX(A, B)                                                                          \
    "ldrsb r1, [r2]\n\t"                                                                             \
    "cmp r9, r1\n\t"                                                                                 \
    "it lt\n\t"                                                                                      \
    "movlt r9, r1\n\t"                                                                               \
    "strb r9, [r2]\n\t"                                                                              \
    FN_STORE_MAX_SEL("r10", "[r2, lr]", "r9")                                                        \
    FN_STORE_MAX_SEL(A, "[r3]", "r10")                                                               \
    FN_STORE_MAX_SEL(B, "[r3, lr]", A)
#define FN_STORE_MAX_SEL(REG, ADDR, SCRATCH)                                                         \
    "ldrb r1, " ADDR "\n\t"                                                                          \
    "ssub8 " SCRATCH ", " REG ", r1\n\t"                                                             \
    "sel " REG ", " REG ", r1\n\t"                                                                   \
    "strb " REG ", " ADDR "\n\t"

/* Load a plane row word at OFFSET and unpack it: lr = (x0, x2), r1 = (x1, x3). */
#define FN_ROW_WORD(OFFSET) FN_ROW_UNPACK("ldr r1, [r0, #" OFFSET "]\n\t")
/* The same for plane row 0, moving r0 on by STEP (the next pixel pair's window) after the load. */
#define FN_ROW_WORD_STEP(STEP) FN_ROW_UNPACK("ldr r1, [r0], #" STEP "\n\t")
#define FN_ROW_UNPACK(LOAD) LOAD "sxtb16 lr, r1\n\t" "sxtb16 r1, r1, ror #8\n\t"
/* Stride 1: filter row W02 / tap-1 weight W1 (HALF: b or t) of output pixels ACC_A (x = 0) and ACC_B
 * (x = 1), added to IN_A and IN_B (the accumulators, or the bias for a row's first filter row). */
#define FN_TAPS_FROM(ACC_A, ACC_B, IN_A, IN_B, W02, W1, HALF)                                        \
    "smlad " ACC_A ", lr, " W02 ", " IN_A "\n\t"                                                     \
    "smlad " ACC_B ", r1, " W02 ", " IN_B "\n\t"                                                     \
    "smlab" HALF " " ACC_A ", r1, " W1 ", " ACC_A "\n\t"                                             \
    "smlat" HALF " " ACC_B ", lr, " W1 ", " ACC_B "\n\t"
#define FN_TAPS(ACC_A, ACC_B, W02, W1, HALF) FN_TAPS_FROM(ACC_A, ACC_B, ACC_A, ACC_B, W02, W1, HALF)

/* Prologue of the 2-row kernels: r0 plane, r1 dw_frame, r2 output, r3 dw_channel. Builds the stack
 * frame: #0 exponent, #4 out_row, #8 out_stride (one LDM), #12 bias2, #16 multiplier, #20 addend (one
 * LDRD), #24 row_pairs (counted down), #28 in_skip, #32 out_skip, #36 pairs_top; #40 row_pairs, #44
 * channels (counted down), #48 plane_step, #52 dst_step, #56 d_step, #60 the channel's plane, #64 its
 * output, #68 its dw_channel; the weights go to r4-r8, and pairs - 1 to r8's top half (the pixel-pair
 * counter). */
#define FN_DW_ROWS2_PROLOGUE                                                                         \
    "push {r4-r11, lr}\n\t"                                                                          \
    "push {r0, r2, r3}\n\t"                                                                          \
    "ldr r4, [r1, #8]\n\t"                                                                           \
    "add r5, r1, #24\n\t"                                                                            \
    "ldm r5, {r5-r8}\n\t"                                                                            \
    "push {r4-r8}\n\t"                                                                               \
    "ldm r1, {r5, r6, r10, r11, r12, lr}\n\t"                                                        \
    "add r1, r3, #20\n\t"                                                                            \
    "ldm r1, {r4, r7, r8, r9}\n\t"                                                                   \
    "push {r4-r12, lr}\n\t"                                                                          \
    "ldm r3, {r4-r8}\n\t"                                                                            \
    "add r8, r8, lr\n\t"                                                                             \
    "sub r8, r8, #65536\n\t"
/* After a channel's last row pair: the next channel from label LOOP (dw_next_channel), or return. */
#define FN_DW_NEXT_CHANNEL(LOOP)                                                                     \
    "2:\n\t"                                                                                         \
    "bl dw_next_channel\n\t"                                                                         \
    "bne " LOOP "\n\t"                                                                               \
    "add sp, sp, #72\n\t"                                                                            \
    "pop {r4-r11, pc}\n\t"
/* Shared by every kernel (BL from label 2, on the kernel's stack frame, see FN_DW_ROWS2_PROLOGUE): Z set
 * when the call's channels are done; else the next channel's plane (r0), output (r2), requantization
 * (stack) and weights (r4-r8, the pixel-pair counter in r8's top half), the row-pair counter restored,
 * Z clear (nothing after the SUBS sets flags). One copy instead of 24 instructions in each kernel. */
__attribute__((naked, used)) static void dw_next_channel(void)
{
    __asm__ volatile("ldr r1, [sp, #44]\n\t"
                     "subs r1, r1, #1\n\t"
                     "it eq\n\t"
                     "bxeq lr\n\t"
                     "str r1, [sp, #44]\n\t"
                     "add r1, sp, #48\n\t"
                     "ldm r1, {r1, r3, r9, r10, r11, r12}\n\t"
                     "add r0, r10, r1\n\t"
                     "add r2, r11, r3\n\t"
                     "add r3, r12, r9\n\t"
                     "add r1, sp, #60\n\t"
                     "stm r1, {r0, r2, r3}\n\t"
                     "ldr r1, [sp, #40]\n\t"
                     "str r1, [sp, #24]\n\t"
                     "add r1, r3, #20\n\t"
                     "ldm r1, {r4, r7, r8, r9}\n\t"
                     "str r4, [sp]\n\t"
                     "add r1, sp, #12\n\t"
                     "stm r1, {r7, r8, r9}\n\t"
                     "ldm r3, {r4-r8}\n\t"
                     "ldr r1, [sp, #36]\n\t"
                     "add r8, r8, r1\n\t"
                     "sub r8, r8, #65536\n\t"
                     "bx lr\n\t");
}

/* fn_requant_doubled and __ssat on r9-r12: SMMLAR adds the addend to the high word; the sign
 * correction comes from the doubled accumulator (it differs from the high word's only where that is
 * 0, and there (addend - 1) >> e = addend >> e = the output offset). Leaves r3 = output row 1, lr =
 * output stride. */
#define FN_REQUANT4                                                                                  \
    "ldrd r1, r3, [sp, #16]\n\t"                                                                     \
    "smmlar lr, r9, r1, r3\n\t"                                                                      \
    "add r9, lr, r9, asr #31\n\t"                                                                    \
    "smmlar lr, r10, r1, r3\n\t"                                                                     \
    "add r10, lr, r10, asr #31\n\t"                                                                  \
    "smmlar lr, r11, r1, r3\n\t"                                                                     \
    "add r11, lr, r11, asr #31\n\t"                                                                  \
    "smmlar lr, r12, r1, r3\n\t"                                                                     \
    "add r12, lr, r12, asr #31\n\t"                                                                  \
    "ldm sp, {r1, r3, lr}\n\t"                                                                       \
    "asr r9, r9, r1\n\t"                                                                             \
    "asr r10, r10, r1\n\t"                                                                           \
    "asr r11, r11, r1\n\t"                                                                           \
    "asr r12, r12, r1\n\t"                                                                           \
    "ssat r9, #8, r9\n\t"                                                                            \
    "ssat r10, #8, r10\n\t"                                                                          \
    "ssat r11, #8, r11\n\t"                                                                          \
    "ssat r12, #8, r12\n\t"                                                                          \
    "add r3, r3, r2\n\t"
/* Requantize r9-r12, store them (row 0: r9, r10; row 1: ROW1_A, ROW1_B), next pair while the counter in
 * r8's top half stays >= 0; then the next row pair (counter restored, plane and output moved on),
 * return after the last. */
#define FN_DW_ROWS2_EPILOGUE(STORE4, ROW1_A, ROW1_B)                                                 \
    FN_REQUANT4                                                                                      \
    STORE4(ROW1_A, ROW1_B)                                                                           \
    "add r2, r2, lr, lsl #1\n\t"                                                                     \
    "subs r8, r8, #65536\n\t"                                                                        \
    "bpl 1b\n\t"                                                                                     \
    "ldr r1, [sp, #24]\n\t"                                                                          \
    "subs r1, r1, #1\n\t"                                                                            \
    "beq 2f\n\t"                                                                                     \
    "str r1, [sp, #24]\n\t"                                                                          \
    "ldr r1, [sp, #36]\n\t"                                                                          \
    "add r8, r8, r1\n\t"                                                                             \
    "ldr r1, [sp, #28]\n\t"                                                                          \
    "add r0, r0, r1\n\t"                                                                             \
    "ldr r1, [sp, #32]\n\t"                                                                          \
    "add r2, r2, r1\n\t"                                                                             \
    "b 1b\n\t"                                                                                       \
    FN_DW_NEXT_CHANNEL("1b")

/* Stride 1: two output rows x two output pixels per iteration from plane rows 0..3 (P1..P3: 1..3
 * pitches): r9, r10 = row 0, pixels 0 and 1; r11, r12 = row 1, both rows seeded with the bias (r3).
 * Per 4 outputs (36 MACs): 4 loads, 8 SXTB16, 24 multiply-accumulates, 4 requantizations. */
#define FN_DW_ROWS2_ASM(P1, P2, P3, STORE)                                                           \
    FN_DW_ROWS2_PROLOGUE                                                                             \
    "1:\n\t"                                                                                         \
    "ldr r3, [sp, #12]\n\t"                                                                          \
    FN_ROW_WORD_STEP("2")                                                                            \
    FN_TAPS_FROM("r9", "r10", "r3", "r3", "r4", "r7", "b")                                           \
    FN_ROW_WORD(P1 "-2")                                                                             \
    FN_TAPS("r9", "r10", "r5", "r7", "t")                                                            \
    FN_TAPS_FROM("r11", "r12", "r3", "r3", "r4", "r7", "b")                                          \
    FN_ROW_WORD(P2 "-2")                                                                             \
    FN_TAPS("r9", "r10", "r6", "r8", "b")                                                            \
    FN_TAPS("r11", "r12", "r5", "r7", "t")                                                           \
    FN_ROW_WORD(P3 "-2")                                                                             \
    FN_TAPS("r11", "r12", "r6", "r8", "b")                                                           \
    FN_DW_ROWS2_EPILOGUE(STORE, "r11", "r12")

/* Stride 2: pixel 0's window is x0..x2 of a plane row word, pixel 1's x2..x4: a second word load 2 bytes
 * on gives r3 = (x2, x4), so per plane row 2 loads, 3 SXTB16 and per output row 4 multiply-accumulates:
 * (x0, x2) . W02 + x1 * W1 for pixel 0, (x2, x4) . W02 + x3 * W1 for pixel 1. One plane row (offsets
 * PK and PK2 = PK + 2) into one output row's accumulators ACC_A, ACC_B from IN_A, IN_B. */
#define FN_S2_ROW_FROM(ACC_A, ACC_B, IN_A, IN_B, W02, W1, HALF)                                      \
    "smlad " ACC_A ", lr, " W02 ", " IN_A "\n\t"                                                     \
    "smlab" HALF " " ACC_A ", r1, " W1 ", " ACC_A "\n\t"                                             \
    "smlad " ACC_B ", r3, " W02 ", " IN_B "\n\t"                                                     \
    "smlat" HALF " " ACC_B ", r1, " W1 ", " ACC_B "\n\t"
#define FN_S2_WORDS(PK, PK2) FN_ROW_WORD(PK "-4") FN_S2_SECOND(PK2 "-4")
#define FN_S2_SECOND(PK2) "ldr r3, [r0, #" PK2 "]\n\t" "sxtb16 r3, r3\n\t"
#define FN_S2_ROW(PK, PK2, ACC_A, ACC_B, W02, W1, HALF)                                              \
    FN_S2_WORDS(PK, PK2) FN_S2_ROW_FROM(ACC_A, ACC_B, ACC_A, ACC_B, W02, W1, HALF)
/* Stride 2: two output rows x two output pixels per iteration from plane rows 0..4 (offsets Pk, Pk + 2).
 * Plane row 2 serves both output rows; the bias waits in r11 until row 1 starts there (r12 = its
 * pixel 0, r11 = pixel 1). Per 4 outputs: 10 loads, 15 SXTB16, 24 multiply-accumulates, 4
 * requantizations. */
#define FN_DW_ROWS2_S2_ASM(P1, P1x, P2, P2x, P3, P3x, P4, P4x, STORE)                                \
    FN_DW_ROWS2_PROLOGUE                                                                             \
    "1:\n\t"                                                                                         \
    "ldr r11, [sp, #12]\n\t"                                                                         \
    FN_ROW_WORD_STEP("4") FN_S2_SECOND("-2")                                                         \
    FN_S2_ROW_FROM("r9", "r10", "r11", "r11", "r4", "r7", "b")                                       \
    FN_S2_ROW(P1, P1x, "r9", "r10", "r5", "r7", "t")                                                 \
    FN_S2_WORDS(P2, P2x)                                                                             \
    FN_S2_ROW_FROM("r9", "r10", "r9", "r10", "r6", "r8", "b")                                        \
    FN_S2_ROW_FROM("r12", "r11", "r11", "r11", "r4", "r7", "b")                                      \
    FN_S2_ROW(P3, P3x, "r12", "r11", "r5", "r7", "t")                                                \
    FN_S2_ROW(P4, P4x, "r12", "r11", "r6", "r8", "b")                                                \
    FN_DW_ROWS2_EPILOGUE(STORE, "r12", "r11")

/* Column kernels (an odd width's last pixel): two output rows x one pixel per iteration, down the
 * frame's row pairs (its pairs_top is row_pairs << 16: the counter in r8's top half counts row pairs).
 * The frame's in_skip holds the pitch (r11 = pitch, r12 = 3 pitches: register-offset loads, so one
 * kernel serves every pitch). Per 2 outputs (18 MACs) at stride 1: 4 loads, 8 SXTB16, 12
 * multiply-accumulates, 2 requantizations; at stride 2 5 loads and 10 SXTB16. */
#define FN_COL_ROW(ADDR) "ldr r1, " ADDR "\n\t" "sxtb16 lr, r1\n\t" "sxtb16 r1, r1, ror #8\n\t"
#define FN_COL_TAPS(ACC, IN, W02, W1, HALF)                                                          \
    "smlad " ACC ", lr, " W02 ", " IN "\n\t"                                                         \
    "smlab" HALF " " ACC ", r1, " W1 ", " ACC "\n\t"
#define FN_COL_PROLOGUE                                                                              \
    FN_DW_ROWS2_PROLOGUE                                                                             \
    "4:\n\t"                                                                                         \
    "ldr r11, [sp, #28]\n\t"                                                                         \
    "add r12, r11, r11, lsl #1\n\t"                                                                  \
    "1:\n\t"                                                                                         \
    "ldr r3, [sp, #12]\n\t"
#define FN_STORE2_PLAIN "strb r9, [r2]\n\t" "strb r10, [r2, r3]\n\t"
#define FN_STORE2_MAX FN_STORE_MAX_SEL("r9", "[r2]", "lr") FN_STORE_MAX_SEL("r10", "[r2, r3]", "lr")
/* Requantize r9 (row 0) and r10 (row 1), store them, 2 output rows and 2 * STRIDE plane rows on. */
#define FN_COL_EPILOGUE(STORE2, ROWS_SHIFT)                                                          \
    "ldrd r1, r3, [sp, #16]\n\t"                                                                     \
    "smmlar lr, r9, r1, r3\n\t"                                                                      \
    "add r9, lr, r9, asr #31\n\t"                                                                    \
    "smmlar lr, r10, r1, r3\n\t"                                                                     \
    "add r10, lr, r10, asr #31\n\t"                                                                  \
    "ldm sp, {r1, r3}\n\t"                                                                           \
    "asr r9, r9, r1\n\t"                                                                             \
    "asr r10, r10, r1\n\t"                                                                           \
    "ssat r9, #8, r9\n\t"                                                                            \
    "ssat r10, #8, r10\n\t"                                                                          \
    STORE2                                                                                           \
    "add r2, r2, r3, lsl #1\n\t"                                                                     \
    "add r0, r0, r11, lsl #" ROWS_SHIFT "\n\t"                                                       \
    "subs r8, r8, #65536\n\t"                                                                        \
    "bpl 1b\n\t"                                                                                     \
    FN_DW_NEXT_CHANNEL("4b")
#define FN_COL_S1_ASM(STORE2)                                                                        \
    FN_COL_PROLOGUE                                                                                  \
    FN_COL_ROW("[r0]") FN_COL_TAPS("r9", "r3", "r4", "r7", "b")                                      \
    FN_COL_ROW("[r0, r11]") FN_COL_TAPS("r9", "r9", "r5", "r7", "t")                                 \
    FN_COL_TAPS("r10", "r3", "r4", "r7", "b")                                                        \
    FN_COL_ROW("[r0, r11, lsl #1]") FN_COL_TAPS("r9", "r9", "r6", "r8", "b")                         \
    FN_COL_TAPS("r10", "r10", "r5", "r7", "t")                                                       \
    FN_COL_ROW("[r0, r12]") FN_COL_TAPS("r10", "r10", "r6", "r8", "b")                               \
    FN_COL_EPILOGUE(STORE2, "1")
#define FN_COL_S2_ASM(STORE2)                                                                        \
    FN_COL_PROLOGUE                                                                                  \
    FN_COL_ROW("[r0]") FN_COL_TAPS("r9", "r3", "r4", "r7", "b")                                      \
    FN_COL_ROW("[r0, r11]") FN_COL_TAPS("r9", "r9", "r5", "r7", "t")                                 \
    FN_COL_ROW("[r0, r11, lsl #1]") FN_COL_TAPS("r9", "r9", "r6", "r8", "b")                         \
    FN_COL_TAPS("r10", "r3", "r4", "r7", "b")                                                        \
    FN_COL_ROW("[r0, r12]") FN_COL_TAPS("r10", "r10", "r5", "r7", "t")                               \
    FN_COL_ROW("[r0, r11, lsl #2]") FN_COL_TAPS("r10", "r10", "r6", "r8", "b")                       \
    FN_COL_EPILOGUE(STORE2, "2")

/* Row kernels (an odd band's last row): one output row x two pixels per iteration over the frame's
 * pixel pairs, from plane rows 0..2 (r11 = the pitch from the frame's in_skip; at stride 2 r12 = the
 * window + 2 bytes for the (x2, x4) loads). Per 2 outputs (18 MACs) at stride 1: 3 loads, 6 SXTB16, 12
 * multiply-accumulates, 2 requantizations; at stride 2 6 loads and 9 SXTB16. */
#define FN_ROW1_PROLOGUE                                                                             \
    FN_DW_ROWS2_PROLOGUE                                                                             \
    "4:\n\t"                                                                                         \
    "ldr r11, [sp, #28]\n\t"                                                                         \
    "1:\n\t"                                                                                         \
    "ldr r9, [sp, #12]\n\t"                                                                          \
    "mov r10, r9\n\t"
#define FN_ROW1_S1_ROW(ADDR, W02, W1, HALF) FN_COL_ROW(ADDR) FN_TAPS("r9", "r10", W02, W1, HALF)
#define FN_ROW1_S2_ROW(ADDR, ADDR2, W02, W1, HALF)                                                   \
    FN_COL_ROW(ADDR) "ldr r3, " ADDR2 "\n\t" "sxtb16 r3, r3\n\t"                                     \
    FN_S2_ROW_FROM("r9", "r10", "r9", "r10", W02, W1, HALF)
/* Requantize r9 (pixel 0) and r10 (pixel 1), store them, the window STEP bytes on, next pixel pair. */
#define FN_ROW1_EPILOGUE(STORE2, STEP)                                                               \
    "ldrd r1, r3, [sp, #16]\n\t"                                                                     \
    "smmlar lr, r9, r1, r3\n\t"                                                                      \
    "add r9, lr, r9, asr #31\n\t"                                                                    \
    "smmlar lr, r10, r1, r3\n\t"                                                                     \
    "add r10, lr, r10, asr #31\n\t"                                                                  \
    "ldm sp, {r1, r3, lr}\n\t"                                                                       \
    "asr r9, r9, r1\n\t"                                                                             \
    "asr r10, r10, r1\n\t"                                                                           \
    "ssat r9, #8, r9\n\t"                                                                            \
    "ssat r10, #8, r10\n\t"                                                                          \
    STORE2                                                                                           \
    "add r2, r2, lr, lsl #1\n\t"                                                                     \
    "add r0, r0, #" STEP "\n\t"                                                                      \
    "subs r8, r8, #65536\n\t"                                                                        \
    "bpl 1b\n\t"                                                                                     \
    FN_DW_NEXT_CHANNEL("4b")
#define FN_ROW_STORE2_PLAIN "strb r9, [r2]\n\t" "strb r10, [r2, lr]\n\t"
#define FN_ROW_STORE2_MAX FN_STORE_MAX_SEL("r9", "[r2]", "r3") FN_STORE_MAX_SEL("r10", "[r2, lr]", "r3")
#define FN_ROW1_S1_ASM(STORE2)                                                                       \
    FN_ROW1_PROLOGUE                                                                                 \
    FN_ROW1_S1_ROW("[r0]", "r4", "r7", "b")                                                          \
    FN_ROW1_S1_ROW("[r0, r11]", "r5", "r7", "t")                                                     \
    FN_ROW1_S1_ROW("[r0, r11, lsl #1]", "r6", "r8", "b")                                             \
    FN_ROW1_EPILOGUE(STORE2, "2")
#define FN_ROW1_S2_ASM(STORE2)                                                                       \
    FN_ROW1_PROLOGUE                                                                                 \
    "add r12, r0, #2\n\t"                                                                            \
    FN_ROW1_S2_ROW("[r0]", "[r12]", "r4", "r7", "b")                                                 \
    FN_ROW1_S2_ROW("[r0, r11]", "[r12, r11]", "r5", "r7", "t")                                       \
    FN_ROW1_S2_ROW("[r0, r11, lsl #1]", "[r12, r11, lsl #1]", "r6", "r8", "b")                       \
    FN_ROW1_EPILOGUE(STORE2, "4")

typedef void (*dw_rows2_kernel)(const int8_t *plane, const dw_frame *f, int8_t *dst, const dw_channel *d);

#define FN_DEFINE_ROWS2(NAME, BODY)                                                                  \
    __attribute__((naked)) static void NAME(FN_IN_ASM const int8_t *plane, FN_IN_ASM const dw_frame *f, \
                                            FN_IN_ASM int8_t *dst, FN_IN_ASM const dw_channel *d)    \
    {                                                                                                \
        __asm__ volatile(BODY);                                                                      \
    }

FN_DEFINE_ROWS2(s1_p16_store, FN_DW_ROWS2_ASM("16", "32", "48", FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s1_p16_max, FN_DW_ROWS2_ASM("16", "32", "48", FN_STORE4_MAX))
FN_DEFINE_ROWS2(s1_p32_store, FN_DW_ROWS2_ASM("32", "64", "96", FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s1_p32_max, FN_DW_ROWS2_ASM("32", "64", "96", FN_STORE4_MAX))
FN_DEFINE_ROWS2(s1_p64_store, FN_DW_ROWS2_ASM("64", "128", "192", FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s1_p64_max, FN_DW_ROWS2_ASM("64", "128", "192", FN_STORE4_MAX))
FN_DEFINE_ROWS2(s1_p128_store, FN_DW_ROWS2_ASM("128", "256", "384", FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s1_p128_max, FN_DW_ROWS2_ASM("128", "256", "384", FN_STORE4_MAX))
FN_DEFINE_ROWS2(s1_p256_store, FN_DW_ROWS2_ASM("256", "512", "768", FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s1_p256_max, FN_DW_ROWS2_ASM("256", "512", "768", FN_STORE4_MAX))
#define FN_S2_OFFSETS_16 "16", "18", "32", "34", "48", "50", "64", "66"
#define FN_S2_OFFSETS_32 "32", "34", "64", "66", "96", "98", "128", "130"
#define FN_S2_OFFSETS_64 "64", "66", "128", "130", "192", "194", "256", "258"
#define FN_S2_OFFSETS_128 "128", "130", "256", "258", "384", "386", "512", "514"
#define FN_S2_OFFSETS_256 "256", "258", "512", "514", "768", "770", "1024", "1026"
#define FN_DW_ROWS2_S2(OFFSETS, STORE) FN_DW_ROWS2_S2_ASM_(OFFSETS, STORE)
#define FN_DW_ROWS2_S2_ASM_(...) FN_DW_ROWS2_S2_ASM(__VA_ARGS__)
FN_DEFINE_ROWS2(s2_p16_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_16, FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s2_p16_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_16, FN_STORE4_MAX))
FN_DEFINE_ROWS2(s2_p32_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_32, FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s2_p32_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_32, FN_STORE4_MAX))
FN_DEFINE_ROWS2(s2_p64_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_64, FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s2_p64_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_64, FN_STORE4_MAX))
FN_DEFINE_ROWS2(s2_p128_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_128, FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s2_p128_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_128, FN_STORE4_MAX))
FN_DEFINE_ROWS2(s2_p256_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_256, FN_STORE4_PLAIN))
FN_DEFINE_ROWS2(s2_p256_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_256, FN_STORE4_MAX))
FN_DEFINE_ROWS2(s1_column_store, FN_COL_S1_ASM(FN_STORE2_PLAIN))
FN_DEFINE_ROWS2(s1_column_max, FN_COL_S1_ASM(FN_STORE2_MAX))
FN_DEFINE_ROWS2(s2_column_store, FN_COL_S2_ASM(FN_STORE2_PLAIN))
FN_DEFINE_ROWS2(s2_column_max, FN_COL_S2_ASM(FN_STORE2_MAX))
FN_DEFINE_ROWS2(s1_row_store, FN_ROW1_S1_ASM(FN_ROW_STORE2_PLAIN))
FN_DEFINE_ROWS2(s1_row_max, FN_ROW1_S1_ASM(FN_ROW_STORE2_MAX))
FN_DEFINE_ROWS2(s2_row_store, FN_ROW1_S2_ASM(FN_ROW_STORE2_PLAIN))
FN_DEFINE_ROWS2(s2_row_max, FN_ROW1_S2_ASM(FN_ROW_STORE2_MAX))

/* The column kernel (column 1) or row kernel (column 0) for a stride (1 or 2), plain or keeping the max. */
static dw_rows2_kernel edge_kernel(int column, int32_t stride, int keep_max)
{
    static const dw_rows2_kernel kernels[2][2][2] = {
        {{s1_row_store, s1_row_max}, {s2_row_store, s2_row_max}},
        {{s1_column_store, s1_column_max}, {s2_column_store, s2_column_max}},
    };
    return kernels[column][stride - 1][keep_max != 0];
}

/* The 2-row kernel for a stride (1 or 2) and pitch (NULL: none), plain or keeping the max. */
static dw_rows2_kernel rows2_kernel(int32_t stride, int32_t pitch, int keep_max)
{
    static const dw_rows2_kernel kernels[2][5][2] = {
        {{s1_p16_store, s1_p16_max}, {s1_p32_store, s1_p32_max}, {s1_p64_store, s1_p64_max},
         {s1_p128_store, s1_p128_max}, {s1_p256_store, s1_p256_max}},
        {{s2_p16_store, s2_p16_max}, {s2_p32_store, s2_p32_max}, {s2_p64_store, s2_p64_max},
         {s2_p128_store, s2_p128_max}, {s2_p256_store, s2_p256_max}},
    };
    for (int32_t i = 0; i < 5; ++i) {
        if (pitch == (16 << i)) {
            return kernels[stride - 1][i][keep_max != 0];
        }
    }
    return 0;
}

/* ---- C for the rest: unequal strides, outputs 1 pixel wide or 1 row high. */

/* Output pixels x_from..out_w - 1 of one output row; the window of pixel x starts at src + stride * x.
 * Always inlined: stride and keep_max are constants at each call (see row_pixels_any). The channel's
 * values are copied to locals, so int8 stores cannot force them to be reloaded (char aliasing). */
static inline __attribute__((always_inline)) void row_pixels(const int8_t *src, int32_t pitch, const dw_channel *d,
                                                             int32_t out_stride, int8_t *dst, int32_t x_from,
                                                             int32_t out_w, int32_t stride, int32_t act_min,
                                                             int32_t act_max, int keep_max)
{
    const int32_t w02_0 = d->w02[0], w02_1 = d->w02[1], w02_2 = d->w02[2], w1_01 = d->w1_01, w1_2 = d->w1_2;
    const int32_t bias2 = d->bias2, multiplier = d->multiplier, exponent = d->exponent, addend = d->addend;
    src += x_from * stride;
    dst += x_from * out_stride;
    for (int32_t x = x_from; x < out_w; ++x, src += stride, dst += out_stride) {
        const uint32_t v0 = fn_read_u32(src), v1 = fn_read_u32(src + pitch), v2 = fn_read_u32(src + 2 * pitch);
        int32_t a = __smlad(__sxtb16((int32_t)v0), w02_0, bias2);
        a = __smlabb(fn_sxtb16_ror8(v0), w1_01, a);
        a = __smlad(__sxtb16((int32_t)v1), w02_1, a);
        a = __smlabt(fn_sxtb16_ror8(v1), w1_01, a);
        a = __smlad(__sxtb16((int32_t)v2), w02_2, a);
        a = __smlabb(fn_sxtb16_ror8(v2), w1_2, a);
        const int8_t v = (int8_t)fn_clamp32(fn_requant_doubled(a, multiplier, exponent, addend), act_min, act_max);
        *dst = keep_max && *dst > v ? *dst : v; /* MDW heads after the first keep the larger */
    }
}

static void row_pixels_any(const int8_t *src, int32_t pitch, const dw_channel *d, int32_t out_stride, int8_t *dst,
                           int32_t x_from, int32_t out_w, int32_t stride, int32_t act_min, int32_t act_max,
                           int keep_max)
{
    if (stride == 1) {
        if (keep_max) {
            row_pixels(src, pitch, d, out_stride, dst, x_from, out_w, 1, act_min, act_max, 1);
        } else {
            row_pixels(src, pitch, d, out_stride, dst, x_from, out_w, 1, act_min, act_max, 0);
        }
    } else if (keep_max) {
        row_pixels(src, pitch, d, out_stride, dst, x_from, out_w, 2, act_min, act_max, 1);
    } else {
        row_pixels(src, pitch, d, out_stride, dst, x_from, out_w, 2, act_min, act_max, 0);
    }
}

#define FN_DW_CACHED FN_DW_PLANE_HEADS /* output channels of a channel group whose set-up is kept from band to band */

enum { DW_ROWS2, DW_ROW, DW_COLUMN }; /* the kernels of a band: 2-row, row, column */

/* One kernel call within a band: from `in` bytes into the channel's plane and `out` bytes into its
 * output on, over `frame`'s row pairs and pixel pairs, with the kernel `kind`. */
typedef struct {
    int32_t in, out;
    const dw_frame *frame;
    int kind;
} dw_piece;

/* [kind][keep_max]: the band's kernels, plain stores and (MDW heads after the first) max. */
typedef dw_rows2_kernel dw_kernel_set[3][2];

/* The assembly kernel calls that cover a band (pieces point into frames: a plan is never copied). */
typedef struct {
    int32_t piece_count; /* 0: the band takes C */
    dw_piece pieces[4];
    dw_frame frames[4];
} dw_band_plan;

/* The plan for bands of `rows` x out_w outputs from the frame of whole pixel pairs and the column frame
 * (in_skip: the pitch): the row and pixel pairs, for an odd row count the row kernel over the last row's
 * pixel pairs, for an odd width the column kernel down the last pixel's row pairs, and for both the
 * last pixel of the last two rows again (the pixel they share gets the same value twice, also as a
 * running max). No pieces where a side is under 2 or there is no 2-row kernel. */
static void plan_band(dw_band_plan *plan, const dw_frame *pairs, const dw_frame *column, int32_t rows,
                      int32_t out_w, int32_t plane_row, int32_t stride_w, int has_kernel)
{
    dw_frame *const frames = plan->frames;
    const int32_t rows_in = (rows - 2) * plane_row, rows_out = (rows - 2) * pairs->out_row;
    const int32_t pixel_in = (out_w - 1) * stride_w, pixel_out = (out_w - 1) * pairs->out_stride;
    int32_t n = 0;
    frames[0] = *pairs;
    frames[1] = *column;
    frames[0].row_pairs = rows >> 1;
    frames[1].pairs_top = (rows >> 1) << 16; /* the column kernels count row pairs */
    frames[2] = frames[0];
    frames[3] = frames[1];
    frames[2].in_skip = column->in_skip; /* the row kernel's pitch */
    frames[3].pairs_top = 1 << 16;
    if (has_kernel && rows >= 2 && out_w >= 2) {
        plan->pieces[n++] = (dw_piece){0, 0, &frames[0], DW_ROWS2};
        if (rows & 1) {
            plan->pieces[n++] = (dw_piece){rows_in + plane_row, rows_out + pairs->out_row, &frames[2], DW_ROW};
        }
        if (out_w & 1) {
            plan->pieces[n++] = (dw_piece){pixel_in, pixel_out, &frames[1], DW_COLUMN};
            if (rows & 1) {
                plan->pieces[n++] = (dw_piece){pixel_in + rows_in, pixel_out + rows_out, &frames[3], DW_COLUMN};
            }
        }
    }
    plan->piece_count = n;
}

/* Channels one kernel call covers, in every frame of the plan. */
static void plan_channels(dw_band_plan *plan, int32_t channels)
{
    for (int32_t i = 0; i < 4; ++i) {
        plan->frames[i].channels = channels;
    }
}

/* All output channels of `channels` adjacent input channels over the band's planes with the assembly
 * kernels (the plan's pieces), the set-up of each prepared in `d` (output channel order; the frames say how many channels a
 * call covers and their steps). Head by head, each call covering the channels: depthwise writes the
 * head's outputs; MDW writes each channel's heads to the same output, the first storing, the others
 * keeping the max (within each piece, after its first head). */
static void run_group_rows2(const int8_t *plane, int8_t *dst, const dw_channel *d, int32_t heads, int maxout,
                            const dw_band_plan *plan, const dw_kernel_set *kernels)
{
    for (const dw_piece *piece = plan->pieces, *const end = piece + plan->piece_count; piece != end; ++piece) {
        for (int32_t m = 0; m < heads; ++m) {
            (*kernels)[piece->kind][maxout && m > 0](plane + piece->in, piece->frame,
                                                     dst + piece->out + (maxout ? 0 : m), d + m);
        }
    }
}

/* One output channel over a band's plane in C, every pixel (outputs one
 * pixel wide or one row high, unequal strides). */
static void run_channel_c(const int8_t *plane, int32_t pitch, const dw_channel *d, const dw_frame *f, int8_t *dst,
                          int32_t rows, int32_t out_w, int32_t stride_h, int32_t stride_w, int32_t act_min,
                          int32_t act_max, int keep_max)
{
    for (int32_t r = 0; r < rows; ++r) {
        row_pixels_any(plane + r * stride_h * pitch, pitch, d, f->out_stride, dst + r * f->out_row, 0, out_w,
                       stride_w, act_min, act_max, keep_max);
    }
}

/* What the channel groups of a call share, set once per call. */
typedef struct {
    const fn_conv_params *p;
    const fn_channel_quant *q;
    const fn_dims *in;
    const int8_t *filter;
    const int32_t *bias;
    int8_t *plane_base;
    int32_t plane_step, pitch, heads, total, out_h, out_w, out_row, stride, pad_h, pad_w;
    int32_t band, last_rows; /* output rows of a band, and of the last one */
    int maxout, refill;      /* refill: more than one band, rows outside the input get the zero point again */
    uint32_t zp4;
    dw_kernel_set kernels;                  /* NULL: no 2-row kernel (C) */
    dw_band_plan plans[2];                  /* bands of `band` rows; the last band */
} dw_call;

/* One channel group (input channels c0.., `count` of them: 4 in 4 planes, or 1) of one image, band by
 * band: x is the image's input at channel c0, dst its output at the group's first output. The weights
 * and requantization are prepared once for all bands where they fit the cache (else channel by channel
 * in each band; a channel's heads always fit). Not inlined: the call's values stay in `k`, not spilled. */
static __attribute__((noinline)) void run_group(dw_call *k, const int8_t *x, int8_t *dst, int32_t c0, int32_t count)
{
    const int32_t heads = k->heads;
    const int cached = count * heads <= FN_DW_CACHED;
    dw_channel cache[FN_DW_CACHED];
    if (cached) {
        prepare_group(cache, count * heads, c0 * heads, k->filter, k->total, k->bias, k->q, k->p);
    }
    plan_channels(&k->plans[0], cached ? count : 1);
    plan_channels(&k->plans[1], cached ? count : 1);
    for (int32_t oy0 = 0; oy0 < k->out_h; oy0 += k->band, dst += k->band * k->out_row) {
        const int is_last = oy0 + k->band >= k->out_h;
        const dw_band_plan *const plan = &k->plans[is_last];
        const int32_t rows = is_last ? k->last_rows : k->band;
        fill_planes(k->plane_base, k->plane_step, count, k->pitch, x, k->in->c, k->in->h, k->in->w,
                    oy0 * k->stride - k->pad_h, (rows - 1) * k->stride + 3, k->pad_w, k->zp4, k->refill);
        if (cached && plan->piece_count) {
            run_group_rows2(k->plane_base, dst, cache, heads, k->maxout, plan, &k->kernels);
            continue;
        }
        for (int32_t i = 0; i < count; ++i) {
            if (!cached) {
                prepare_group(cache, heads, (c0 + i) * heads, k->filter, k->total, k->bias, k->q, k->p);
            }
            const dw_channel *const d = &cache[cached ? i * heads : 0];
            int8_t *const channel_dst = dst + (k->maxout ? i : i * heads);
            const int8_t *const plane = k->plane_base + i * k->plane_step;
            if (plan->piece_count) {
                run_group_rows2(plane, channel_dst, d, heads, k->maxout, plan, &k->kernels);
                continue;
            }
            for (int32_t m = 0; m < heads; ++m) {
                run_channel_c(plane, k->pitch, d + m, &plan->frames[0], channel_dst + (k->maxout ? 0 : m), rows,
                              k->out_w, k->stride, k->p->stride_w, k->p->act_min, k->p->act_max, k->maxout && m > 0);
            }
        }
    }
}

void fn_dw3x3_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                     const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                     int32_t pad_w, int maxout, int8_t *plane_base)
{
    const int four_planes = fn_dw_plane_count(in, 3) == 4;
    const int32_t channels = in->c, heads = p->depth_multiplier, stride = p->stride_h, out_w = out->w;
    const int32_t pitch = plane_pitch(in->w), pairs = out_w >> 1;
    const int full_range = p->act_min <= FN_INT8_MIN && p->act_max >= FN_INT8_MAX;
    /* The assembly saturates to int8; a narrower activation range (RELU, RELU6) is clamped over the whole
     * output at the end, 4 bytes at a time: clamp(max(a, b)) = max(clamp(a), clamp(b)), so MDW's running
     * max may clamp last too, and the C rows' own clamp is the same clamp again. */
    const int asm_rows = p->stride_w == stride && out_w >= 2;
    dw_call k;
    k.p = p;
    k.q = q;
    k.in = in;
    k.filter = filter;
    k.bias = bias;
    k.plane_base = plane_base;
    k.plane_step = one_plane_bytes(in, 3);
    k.pitch = pitch;
    k.heads = heads;
    k.total = channels * heads;
    k.out_h = out->h;
    k.out_w = out_w;
    k.stride = stride;
    k.pad_h = pad_h;
    k.pad_w = pad_w;
    k.band = band_rows(in->h, out->h, stride, 3);
    k.last_rows = out->h - (out->h - 1) / k.band * k.band;
    k.maxout = maxout;
    k.refill = k.band < out->h;
    k.zp4 = (uint32_t)(uint8_t)(-p->input_offset) * 0x01010101u;
    for (int keep_max = 0; keep_max < 2; ++keep_max) {
        k.kernels[DW_ROWS2][keep_max] = asm_rows ? rows2_kernel(stride, pitch, keep_max) : 0;
        k.kernels[DW_ROW][keep_max] = edge_kernel(0, stride, keep_max);
        k.kernels[DW_COLUMN][keep_max] = edge_kernel(1, stride, keep_max);
    }
    /* The frame of whole pixel pairs, and of the column kernels (an odd width's last pixel). */
    dw_frame pairs_frame, column;
    pairs_frame.out_stride = maxout ? channels : k.total;
    pairs_frame.out_row = k.out_row = out_w * pairs_frame.out_stride;
    pairs_frame.in_skip = 2 * stride * pitch - pairs * 2 * p->stride_w;
    pairs_frame.out_skip = 2 * k.out_row - pairs * 2 * pairs_frame.out_stride;
    pairs_frame.pairs_top = pairs << 16;
    pairs_frame.plane_step = k.plane_step;
    pairs_frame.dst_step = maxout ? 1 : heads;
    pairs_frame.d_step = heads * (int32_t)sizeof(dw_channel);
    column = pairs_frame;
    column.in_skip = pitch;
    plan_band(&k.plans[0], &pairs_frame, &column, k.band, out_w, stride * pitch, p->stride_w, k.kernels[DW_ROWS2][0] != 0);
    plan_band(&k.plans[1], &pairs_frame, &column, k.last_rows, out_w, stride * pitch, p->stride_w,
              k.kernels[DW_ROWS2][0] != 0);
    fn_dw_fill_zero_point(plane_base, (four_planes ? 4 : 1) * k.plane_step, k.zp4);
    for (int32_t b = 0; b < out->n; ++b) {
        const int8_t *const x = input + b * in->h * in->w * channels;
        int8_t *const out_image = output + b * out->h * k.out_row;
        /* Channel groups (4 adjacent channels in 4 planes, or one) outer, bands inner. */
        for (int32_t c0 = 0, count = 1; c0 < channels; c0 += count) {
            count = four_planes && c0 + 4 <= channels ? 4 : 1;
            run_group(&k, x + c0, out_image + (maxout ? c0 : c0 * heads), c0, count);
        }
    }
    if (!full_range) {
        fn_clamp_bytes(output, out->n * out->h * k.out_row, p->act_min, p->act_max);
    }
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dw3x3_portable_build_has_no_dsp_path;
#endif
