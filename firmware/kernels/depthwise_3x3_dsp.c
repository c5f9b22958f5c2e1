/* 3x3 depthwise conv and fused MDW + Max-out on Cortex-M4/M7 (DSP path), any heads, stride 1 or 2.
 *
 * Channel by channel over bands of output rows: the band's input rows of one channel are copied
 * into a plane (on maps up to 56 wide, where 3 more planes cost at most half the input map, 4
 * channels at once into 4 planes, one word load per pixel and a byte transpose; int8, rows PITCH
 * bytes apart, the padding filled with the input zero point, so a padded tap adds (zp + offset) * w
 * = 0 like TFLM's skipped tap, and no window needs a border check). One 32-bit load of a plane row
 * holds x0..x3 of a window: __sxtb16 gives (x0, x2) and __sxtb16(ror 8) gives (x1, x3), so SMLAD
 * multiplies taps 0 and 2 of a filter row with its weights packed as (w0, w2) and SMLABB / SMLATB
 * adds tap 1; at stride 1 the same load serves the next output pixel ((x1, x3) and x2), and a plane
 * row serves two output rows. The input offset goes into the bias (offset * sum of the 9 weights);
 * the weights are doubled so the accumulator is 2 * acc, as fn_requant_doubled wants. Each head of
 * a channel reuses the channel's plane; MDW keeps the running max over heads in the output. Sums
 * are exact, so the bytes equal the portable path's.
 */
#include "fn_internal.h"

#if FN_USE_DSP
#define FN_DW_BAND 8 /* output rows per band: each band copies 2 rows more than it uses at stride 1 */

/* Plane rows one band needs at stride <= 2, and never more than the padded input has. */
static int32_t plane_rows(int32_t height) { return fn_min32((FN_DW_BAND - 1) * 2 + 3, height + 4); }

/* Row pitch: the input row, pads of up to 2 on both sides, 4 bytes a window's last load reads past,
 * rounded up to the pitches the 2-row assembly kernel has (the pitch is its load offset). */
static int32_t plane_pitch(int32_t width)
{
    const int32_t needed = width + 8;
    for (int32_t pitch = 32; pitch <= 256; pitch *= 2) {
        if (needed <= pitch) {
            return pitch;
        }
    }
    return (needed + 3) & ~3;
}

int fn_dw3x3_applies(const fn_dims *filter_dims) { return filter_dims->h == 3 && filter_dims->w == 3; }

/* One channel's plane; + 12: the fill's last word stores run past the last row. */
static int32_t one_plane_bytes(const fn_dims *in_dims)
{
    return plane_rows(in_dims->h) * plane_pitch(in_dims->w) + 12;
}

/* Narrow maps (pitch <= 64) copy 4 channels at once into 4 planes: one word load per pixel serves 4
 * channels, and the per-row costs are shared; wider rows amortize those costs already and keep the
 * scratch at one plane (at most 4 x 1.1 KB this way). Small maps keep one plane too: the 3 extra
 * planes are taken only where they cost at most half the input map's bytes, so the scratch never
 * eats the SRAM the fused MDW saves. */
static int32_t plane_count(const fn_dims *in_dims)
{
    const int32_t map_bytes = in_dims->h * in_dims->w * in_dims->c;
    const int narrow = in_dims->c >= 4 && plane_pitch(in_dims->w) <= 64;
    return narrow && 2 * 3 * one_plane_bytes(in_dims) <= map_bytes ? 4 : 1;
}

int32_t fn_dw3x3_plane_bytes(const fn_dims *in_dims) { return plane_count(in_dims) * one_plane_bytes(in_dims); }

/* One output channel's weights, doubled and packed for the plane loads, and its requantization.
 * Offsets are read by the assembly: keep the order. */
typedef struct {
    int32_t w02[3];                              /* #0..#8: (2 w[r][0], 2 w[r][2]) per filter row r */
    int32_t w1_01;                               /* #12: (2 w[0][1], 2 w[1][1]) */
    int32_t w1_2;                                /* #16: 2 w[2][1] in the bottom half */
    int32_t bias2, multiplier, addend, exponent; /* #20..#32: 2 * (bias + offset * sum w); fn_requant_doubled */
    int32_t out_stride, pairs, out_row;          /* #36..#44: bytes between output pixels, pixel pairs, rows */
    /* #48..#60, the 2-row kernels' outer loop: row pairs, then from the end of one row pair to the start
     * of the next in the plane and in the output, and plane bytes per row pair */
    int32_t row_pairs, in_skip, out_skip, row_step;
} dw_channel;

static inline int32_t pack16(int32_t lo, int32_t hi) { return (int32_t)(((uint32_t)hi << 16) | (uint16_t)lo); }

static void prepare_channel(dw_channel *d, const int8_t *w, int32_t tap_stride, const int32_t *bias,
                            const fn_channel_quant *q, int32_t oc, int32_t input_offset, int32_t output_offset)
{
    int32_t t[9], sum = 0;
    for (int32_t i = 0; i < 9; ++i) {
        t[i] = w[i * tap_stride];
        sum += t[i];
    }
    for (int32_t r = 0; r < 3; ++r) {
        d->w02[r] = pack16(2 * t[3 * r], 2 * t[3 * r + 2]);
    }
    d->w1_01 = pack16(2 * t[1], 2 * t[4]);
    d->w1_2 = pack16(2 * t[7], 0);
    d->bias2 = 2 * ((bias ? bias[oc] : 0) + input_offset * sum);
    d->multiplier = q->multiplier[oc];
    d->exponent = -q->shift[oc];
    d->addend = fn_requant_addend(d->exponent, output_offset);
}

/* ---- Assembly kernels: stride 1, full int8 output range, everything in registers (the compiler
 * spills these loops). r0 window start in plane row 0, r2 output, r3 output stride, r4-r8 packed
 * weights, the rest working registers; bias, requantization and loop end on the stack. STORE puts
 * an int8 result register to an address: a plain store, or (MDW heads after the first) the larger
 * of it and the stored value. */
#define FN_STORE_PLAIN(REG, ADDR) "strb " REG ", " ADDR "\n\t"
#define FN_STORE_MAX(REG, ADDR)                                                                      \
    "ldrsb lr, " ADDR "\n\t"                                                                         \
    "cmp " REG ", lr\n\t"                                                                            \
    "it lt\n\t"                                                                                      \
    "movlt " REG ", lr\n\t"                                                                          \
    "strb " REG ", " ADDR "\n\t"

/* Load a plane row word at OFFSET and unpack it: lr = (x0, x2), r1 = (x1, x3). */
#define FN_ROW_WORD(OFFSET)                                                                          \
    "ldr r1, [r0, #" OFFSET "]\n\t"                                                                  \
    "sxtb16 lr, r1\n\t"                                                                              \
    "sxtb16 r1, r1, ror #8\n\t"
/* Filter row W02 / tap-1 weight W1 (HALF: b or t) of output pixels ACC_A (x = 0) and ACC_B (x = 1). */
#define FN_TAPS(ACC_A, ACC_B, W02, W1, HALF)                                                         \
    "smlad " ACC_A ", lr, " W02 ", " ACC_A "\n\t"                                                    \
    "smlad " ACC_B ", r1, " W02 ", " ACC_B "\n\t"                                                    \
    "smlab" HALF " " ACC_A ", r1, " W1 ", " ACC_A "\n\t"                                             \
    "smlat" HALF " " ACC_B ", lr, " W1 ", " ACC_B "\n\t"
/* fn_requant_doubled and __ssat on r9-r12 (multiplier, addend, exponent from the stack via r1). */
#define FN_REQUANT4                                                                                  \
    "ldr r1, [sp, #4]\n\t"                                                                           \
    "smmulr r9, r9, r1\n\t"                                                                          \
    "smmulr r10, r10, r1\n\t"                                                                        \
    "smmulr r11, r11, r1\n\t"                                                                        \
    "smmulr r12, r12, r1\n\t"                                                                        \
    "ldr r1, [sp, #8]\n\t"                                                                           \
    "add lr, r9, r1\n\t"                                                                             \
    "add r9, lr, r9, asr #31\n\t"                                                                    \
    "add lr, r10, r1\n\t"                                                                            \
    "add r10, lr, r10, asr #31\n\t"                                                                  \
    "add lr, r11, r1\n\t"                                                                            \
    "add r11, lr, r11, asr #31\n\t"                                                                  \
    "add lr, r12, r1\n\t"                                                                            \
    "add r12, lr, r12, asr #31\n\t"                                                                  \
    "ldr r1, [sp, #12]\n\t"                                                                          \
    "asr r9, r9, r1\n\t"                                                                             \
    "asr r10, r10, r1\n\t"                                                                           \
    "asr r11, r11, r1\n\t"                                                                           \
    "asr r12, r12, r1\n\t"                                                                           \
    "ssat r9, #8, r9\n\t"                                                                            \
    "ssat r10, #8, r10\n\t"                                                                          \
    "ssat r11, #8, r11\n\t"                                                                          \
    "ssat r12, #8, r12\n\t"

/* Prologue of the 2-row kernels: r0 plane, r1 unused, r2 output, r3 dw_channel; pushes row_pairs,
 * in_skip, out_skip, row_step (#24..#36), then bias2, multiplier, addend, exponent, out_row and the
 * row pair's loop end (r0 + pairs << PAIR_SHIFT) (#0..#20) on the stack. */
#define FN_DW_ROWS2_PROLOGUE(PAIR_SHIFT)                                                             \
    "push {r4-r11, lr}\n\t"                                                                          \
    "add r1, r3, #48\n\t"                                                                            \
    "ldm r1, {r1, r9, r10, r11}\n\t"                                                                 \
    "push {r1, r9, r10, r11}\n\t"                                                                    \
    "add r1, r3, #20\n\t"                                                                            \
    "ldm r1, {r1, r9, r10, r11}\n\t"                                                                 \
    "ldr r12, [r3, #44]\n\t"                                                                         \
    "ldr lr, [r3, #40]\n\t"                                                                          \
    "add lr, r0, lr, lsl #" PAIR_SHIFT "\n\t"                                                        \
    "push {r1, r9, r10, r11, r12, lr}\n\t"                                                           \
    "ldm r3, {r4-r8}\n\t"                                                                            \
    "ldr r3, [r3, #36]\n\t"
/* Requantize r9-r12, store them (output rows 0 and 1, pixels 0 and 1), next pair, loop; then the
 * next row pair (plane, output and loop end moved on), return after the last. */
#define FN_DW_ROWS2_EPILOGUE(STEP, STORE)                                                            \
    FN_REQUANT4                                                                                      \
    STORE("r9", "[r2]")                                                                              \
    STORE("r10", "[r2, r3]")                                                                         \
    "ldr r1, [sp, #16]\n\t"                                                                          \
    "add r1, r2, r1\n\t"                                                                             \
    STORE("r11", "[r1]")                                                                             \
    STORE("r12", "[r1, r3]")                                                                         \
    "add r2, r2, r3, lsl #1\n\t"                                                                     \
    "adds r0, r0, #" STEP "\n\t"                                                                     \
    "ldr r1, [sp, #20]\n\t"                                                                          \
    "cmp r0, r1\n\t"                                                                                 \
    "bne 1b\n\t"                                                                                     \
    "ldr lr, [sp, #24]\n\t"                                                                          \
    "subs lr, lr, #1\n\t"                                                                            \
    "beq 2f\n\t"                                                                                     \
    "str lr, [sp, #24]\n\t"                                                                          \
    "ldr lr, [sp, #36]\n\t"                                                                          \
    "add r1, r1, lr\n\t"                                                                             \
    "str r1, [sp, #20]\n\t"                                                                          \
    "ldr lr, [sp, #28]\n\t"                                                                          \
    "add r0, r0, lr\n\t"                                                                             \
    "ldr lr, [sp, #32]\n\t"                                                                          \
    "add r2, r2, lr\n\t"                                                                             \
    "b 1b\n\t"                                                                                       \
    "2:\n\t"                                                                                         \
    "add sp, sp, #40\n\t"                                                                            \
    "pop {r4-r11, pc}\n\t"

/* Stride 1: two output rows x two output pixels per iteration from plane rows 0..3 (P1..P3: 1..3
 * pitches): r9, r10 = row 0, pixels 0 and 1; r11, r12 = row 1. Per 4 outputs (36 MACs): 4 loads,
 * 8 SXTB16, 24 multiply-accumulates, 4 requantizations. */
#define FN_DW_ROWS2_ASM(P1, P2, P3, STORE)                                                           \
    FN_DW_ROWS2_PROLOGUE("1")                                                                        \
    "1:\n\t"                                                                                         \
    "ldr r11, [sp]\n\t"                                                                              \
    FN_ROW_WORD("0")                                                                                 \
    "smlad r9, lr, r4, r11\n\t"                                                                      \
    "smlad r10, r1, r4, r11\n\t"                                                                     \
    "smlabb r9, r1, r7, r9\n\t"                                                                      \
    "smlatb r10, lr, r7, r10\n\t"                                                                    \
    "mov r12, r11\n\t"                                                                               \
    FN_ROW_WORD(P1)                                                                                  \
    FN_TAPS("r9", "r10", "r5", "r7", "t")                                                            \
    FN_TAPS("r11", "r12", "r4", "r7", "b")                                                           \
    FN_ROW_WORD(P2)                                                                                  \
    FN_TAPS("r9", "r10", "r6", "r8", "b")                                                            \
    FN_TAPS("r11", "r12", "r5", "r7", "t")                                                           \
    FN_ROW_WORD(P3)                                                                                  \
    FN_TAPS("r11", "r12", "r6", "r8", "b")                                                           \
    FN_DW_ROWS2_EPILOGUE("2", STORE)

/* Stride 2: one window's filter row: ACC += (x0, x2) . W02 + x1 * W1 (HALF of W1). */
#define FN_TAPS1(ACC, W02, W1, HALF)                                                                 \
    "smlad " ACC ", lr, " W02 ", " ACC "\n\t"                                                        \
    "smlab" HALF " " ACC ", r1, " W1 ", " ACC "\n\t"
/* Stride 2: one plane row (offsets PK, PKB = PK + 2 of pixels 0 and 1) into one output row's
 * accumulators ACC_A, ACC_B. */
#define FN_S2_ROW(PK, PKB, ACC_A, ACC_B, W02, W1, HALF)                                              \
    FN_ROW_WORD(PK)                                                                                  \
    FN_TAPS1(ACC_A, W02, W1, HALF)                                                                   \
    FN_ROW_WORD(PKB)                                                                                 \
    FN_TAPS1(ACC_B, W02, W1, HALF)
/* Stride 2: two output rows x two output pixels per iteration from plane rows 0..4; pixel 1's
 * window starts 2 bytes after pixel 0's (offsets Pk and Pkb = Pk + 2). Plane row 2 serves both
 * output rows. Per 4 outputs: 10 loads, 20 SXTB16, 24 multiply-accumulates, 4 requantizations. */
#define FN_DW_ROWS2_S2_ASM(P1, P1b, P2, P2b, P3, P3b, P4, P4b, STORE)                                \
    FN_DW_ROWS2_PROLOGUE("2")                                                                        \
    "1:\n\t"                                                                                         \
    "ldr r11, [sp]\n\t"                                                                              \
    FN_ROW_WORD("0")                                                                                 \
    "smlad r9, lr, r4, r11\n\t"                                                                      \
    "smlabb r9, r1, r7, r9\n\t"                                                                      \
    FN_ROW_WORD("2")                                                                                 \
    "smlad r10, lr, r4, r11\n\t"                                                                     \
    "smlabb r10, r1, r7, r10\n\t"                                                                    \
    "mov r12, r11\n\t"                                                                               \
    FN_S2_ROW(P1, P1b, "r9", "r10", "r5", "r7", "t")                                                 \
    FN_ROW_WORD(P2)                                                                                  \
    FN_TAPS1("r9", "r6", "r8", "b")                                                                  \
    FN_TAPS1("r11", "r4", "r7", "b")                                                                 \
    FN_ROW_WORD(P2b)                                                                                 \
    FN_TAPS1("r10", "r6", "r8", "b")                                                                 \
    FN_TAPS1("r12", "r4", "r7", "b")                                                                 \
    FN_S2_ROW(P3, P3b, "r11", "r12", "r5", "r7", "t")                                                \
    FN_S2_ROW(P4, P4b, "r11", "r12", "r6", "r8", "b")                                                \
    FN_DW_ROWS2_EPILOGUE("4", STORE)

typedef void (*dw_rows2_kernel)(const int8_t *plane, int32_t unused, int8_t *dst, const dw_channel *d);

#define FN_IN_ASM __attribute__((unused))
#define FN_DEFINE_ROWS2(NAME, BODY)                                                                  \
    __attribute__((naked)) static void NAME(FN_IN_ASM const int8_t *plane, FN_IN_ASM int32_t unused, \
                                            FN_IN_ASM int8_t *dst, FN_IN_ASM const dw_channel *d)    \
    {                                                                                                \
        __asm__ volatile(BODY);                                                                      \
    }

FN_DEFINE_ROWS2(s1_p32_store, FN_DW_ROWS2_ASM("32", "64", "96", FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s1_p32_max, FN_DW_ROWS2_ASM("32", "64", "96", FN_STORE_MAX))
FN_DEFINE_ROWS2(s1_p64_store, FN_DW_ROWS2_ASM("64", "128", "192", FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s1_p64_max, FN_DW_ROWS2_ASM("64", "128", "192", FN_STORE_MAX))
FN_DEFINE_ROWS2(s1_p128_store, FN_DW_ROWS2_ASM("128", "256", "384", FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s1_p128_max, FN_DW_ROWS2_ASM("128", "256", "384", FN_STORE_MAX))
FN_DEFINE_ROWS2(s1_p256_store, FN_DW_ROWS2_ASM("256", "512", "768", FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s1_p256_max, FN_DW_ROWS2_ASM("256", "512", "768", FN_STORE_MAX))
#define FN_S2_OFFSETS_32 "32", "34", "64", "66", "96", "98", "128", "130"
#define FN_S2_OFFSETS_64 "64", "66", "128", "130", "192", "194", "256", "258"
#define FN_S2_OFFSETS_128 "128", "130", "256", "258", "384", "386", "512", "514"
#define FN_S2_OFFSETS_256 "256", "258", "512", "514", "768", "770", "1024", "1026"
#define FN_DW_ROWS2_S2(OFFSETS, STORE) FN_DW_ROWS2_S2_ASM_(OFFSETS, STORE)
#define FN_DW_ROWS2_S2_ASM_(...) FN_DW_ROWS2_S2_ASM(__VA_ARGS__)
FN_DEFINE_ROWS2(s2_p32_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_32, FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s2_p32_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_32, FN_STORE_MAX))
FN_DEFINE_ROWS2(s2_p64_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_64, FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s2_p64_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_64, FN_STORE_MAX))
FN_DEFINE_ROWS2(s2_p128_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_128, FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s2_p128_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_128, FN_STORE_MAX))
FN_DEFINE_ROWS2(s2_p256_store, FN_DW_ROWS2_S2(FN_S2_OFFSETS_256, FN_STORE_PLAIN))
FN_DEFINE_ROWS2(s2_p256_max, FN_DW_ROWS2_S2(FN_S2_OFFSETS_256, FN_STORE_MAX))

/* The 2-row kernel for a stride (1 or 2) and pitch (NULL: none), plain or keeping the max. */
static dw_rows2_kernel rows2_kernel(int32_t stride, int32_t pitch, int keep_max)
{
    static const dw_rows2_kernel kernels[2][4][2] = {
        {{s1_p32_store, s1_p32_max}, {s1_p64_store, s1_p64_max}, {s1_p128_store, s1_p128_max},
         {s1_p256_store, s1_p256_max}},
        {{s2_p32_store, s2_p32_max}, {s2_p64_store, s2_p64_max}, {s2_p128_store, s2_p128_max},
         {s2_p256_store, s2_p256_max}},
    };
    for (int32_t i = 0; i < 4; ++i) {
        if (pitch == (32 << i)) {
            return kernels[stride - 1][i][keep_max != 0];
        }
    }
    return 0;
}

/* ---- C for the rest: stride 2, narrowed activation ranges, odd rows and columns. */

/* Output pixels x_from..out_w - 1 of one output row; the window of pixel x starts at src + stride * x.
 * Always inlined: stride and keep_max are constants at each call (see row_pixels_any). The channel's
 * values are copied to locals, so int8 stores cannot force them to be reloaded (char aliasing). */
static inline __attribute__((always_inline)) void row_pixels(const int8_t *src, int32_t pitch, const dw_channel *d,
                                                             int8_t *dst, int32_t x_from, int32_t out_w,
                                                             int32_t stride, int32_t act_min, int32_t act_max,
                                                             int keep_max)
{
    const int32_t w02_0 = d->w02[0], w02_1 = d->w02[1], w02_2 = d->w02[2], w1_01 = d->w1_01, w1_2 = d->w1_2;
    const int32_t bias2 = d->bias2, multiplier = d->multiplier, exponent = d->exponent, addend = d->addend;
    const int32_t out_stride = d->out_stride;
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

static void row_pixels_any(const int8_t *src, int32_t pitch, const dw_channel *d, int8_t *dst, int32_t x_from,
                           int32_t out_w, int32_t stride, int32_t act_min, int32_t act_max, int keep_max)
{
    if (stride == 1) {
        if (keep_max) {
            row_pixels(src, pitch, d, dst, x_from, out_w, 1, act_min, act_max, 1);
        } else {
            row_pixels(src, pitch, d, dst, x_from, out_w, 1, act_min, act_max, 0);
        }
    } else if (keep_max) {
        row_pixels(src, pitch, d, dst, x_from, out_w, 2, act_min, act_max, 1);
    } else {
        row_pixels(src, pitch, d, dst, x_from, out_w, 2, act_min, act_max, 0);
    }
}

/* w bytes of one channel, `channels` apart, into a plane row: 4 byte loads packed into one word store.
 * Not inlined, so its few live values stay in registers. */
static __attribute__((noinline)) void copy_channel_row(int8_t *dst, const int8_t *src, int32_t w, int32_t channels)
{
    const int32_t c2 = 2 * channels, c3 = 3 * channels, c4 = 4 * channels;
    int8_t *const end4 = dst + (w & ~3), *const end = dst + w;
    for (; dst != end4; dst += 4, src += c4) {
        const uint32_t packed = (uint32_t)(uint8_t)src[0] | (uint32_t)(uint8_t)src[channels] << 8 |
                                (uint32_t)(uint8_t)src[c2] << 16 | (uint32_t)(uint8_t)src[c3] << 24;
        __builtin_memcpy(dst, &packed, 4);
    }
    for (; dst != end; ++dst, src += channels) {
        *dst = *src;
    }
}

/* Byte transpose helpers: (x1, x3) zero-extended; (lo's bottom half, hi's bottom half);
 * (lo's top half, hi's top half). */
static inline uint32_t uxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
static inline uint32_t bottom_halves(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
static inline uint32_t top_halves(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/* w pixels of 4 adjacent channels into 4 plane rows `plane_step` apart: per 4 pixels 4 word loads
 * (4 channels each), a 4 x 4 byte transpose (UXTB16 pairs, then PKHBT / PKHTB) and 4 word stores. */
static __attribute__((noinline)) void copy_4channel_row(int8_t *dst, int32_t plane_step, const int8_t *src,
                                                        int32_t w, int32_t channels)
{
    int32_t x = 0;
    for (; x + 4 <= w; x += 4, dst += 4, src += 4 * channels) {
        const uint32_t a = fn_read_u32(src), b = fn_read_u32(src + channels);
        const uint32_t c = fn_read_u32(src + 2 * channels), d = fn_read_u32(src + 3 * channels);
        /* ab02 = (a0, b0, a2, b2), ab13 = (a1, b1, a3, b3); the same for c, d */
        const uint32_t ab02 = __uxtb16(a) | __uxtb16(b) << 8, ab13 = uxtb16_ror8(a) | uxtb16_ror8(b) << 8;
        const uint32_t cd02 = __uxtb16(c) | __uxtb16(d) << 8, cd13 = uxtb16_ror8(c) | uxtb16_ror8(d) << 8;
        const uint32_t ch0 = bottom_halves(ab02, cd02), ch1 = bottom_halves(ab13, cd13);
        const uint32_t ch2 = top_halves(ab02, cd02), ch3 = top_halves(ab13, cd13);
        __builtin_memcpy(dst, &ch0, 4);
        __builtin_memcpy(dst + plane_step, &ch1, 4);
        __builtin_memcpy(dst + 2 * plane_step, &ch2, 4);
        __builtin_memcpy(dst + 3 * plane_step, &ch3, 4);
    }
    for (; x < w; ++x, ++dst, src += channels) {
        for (int32_t i = 0; i < 4; ++i) {
            dst[i * plane_step] = src[i];
        }
    }
}

/* Every byte of `bytes` (a multiple of 4) of plane memory to the zero point. */
static void fill_zero_point(int8_t *plane, int32_t bytes, uint32_t zp4)
{
    for (int32_t u = 0; u < bytes; u += 4) {
        __builtin_memcpy(plane + u, &zp4, 4);
    }
}

/* Copy `rows` input rows of `count` (1 or 4) adjacent channels, from row iy0 on, into the planes
 * (plane_step bytes apart). The copies write only a row's input columns, so the zero point the planes
 * got once per call (fill_zero_point) stays around them; rows outside the input get it again. */
static void fill_planes(int8_t *plane, int32_t plane_step, int32_t count, int32_t pitch, const int8_t *x,
                        int32_t channels, const fn_dims *in, int32_t iy0, int32_t rows, int32_t pad_w, uint32_t zp4)
{
    const int32_t w = in->w, row_step = w * channels;
    for (int32_t r = 0; r < rows; ++r, plane += pitch) {
        const int32_t iy = iy0 + r;
        if (iy < 0 || iy >= in->h) {
            for (int32_t i = 0; i < count; ++i) {
                fill_zero_point(plane + i * plane_step, pitch, zp4);
            }
        } else if (count == 4) {
            copy_4channel_row(plane + pad_w, plane_step, x + iy * row_step, w, channels);
        } else {
            copy_channel_row(plane + pad_w, x + iy * row_step, w, channels);
        }
    }
}

void fn_dw3x3_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                     const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                     int32_t pad_w, int maxout, int8_t *plane_base)
{
    const int four_planes = plane_count(in) == 4;
    const int32_t plane_step = one_plane_bytes(in);
    const int32_t channels = in->c, heads = p->depth_multiplier, total = channels * heads;
    const int32_t pitch = plane_pitch(in->w), stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t out_w = out->w, out_stride = maxout ? channels : total;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int full_range = act_min <= FN_INT8_MIN && act_max >= FN_INT8_MAX;
    const int asm_rows = stride_w == stride_h && full_range && out_w >= 2;
    /* The 2-row kernels for plain stores (and MDW heads after the first), chosen once per call. */
    const dw_rows2_kernel rows2_store = asm_rows ? rows2_kernel(stride_h, pitch, 0) : 0;
    const dw_rows2_kernel rows2_max = asm_rows ? rows2_kernel(stride_h, pitch, 1) : 0;
    const uint32_t zp4 = (uint32_t)(uint8_t)(-p->input_offset) * 0x01010101u;
    dw_channel d;
    d.out_stride = out_stride;
    d.pairs = out_w >> 1;
    d.out_row = out_w * out_stride;
    d.row_step = 2 * stride_h * pitch;
    d.in_skip = d.row_step - d.pairs * 2 * stride_w;
    d.out_skip = 2 * d.out_row - d.pairs * 2 * out_stride;
    fill_zero_point(plane_base, (four_planes ? 4 : 1) * plane_step, zp4);
    for (int32_t b = 0; b < out->n; ++b) {
        const int8_t *x = input + b * in->h * in->w * channels;
        for (int32_t oy0 = 0; oy0 < out->h; oy0 += FN_DW_BAND) {
            const int32_t band = fn_min32(FN_DW_BAND, out->h - oy0);
            int32_t group = 0, group_end = 0; /* channels group..group_end - 1 are in the planes */
            for (int32_t c = 0; c < channels; ++c) {
                if (c == group_end) {
                    const int32_t count = four_planes && c + 4 <= channels ? 4 : 1;
                    fill_planes(plane_base, plane_step, count, pitch, x + c, channels, in, oy0 * stride_h - pad_h,
                                (band - 1) * stride_h + 3, pad_w, zp4);
                    group = c;
                    group_end = c + count;
                }
                const int8_t *const plane = plane_base + (c - group) * plane_step;
                for (int32_t m = 0; m < heads; ++m) {
                    const int32_t oc = c * heads + m;
                    const int keep_max = maxout && m > 0;
                    const dw_rows2_kernel rows2 = keep_max ? rows2_max : rows2_store;
                    prepare_channel(&d, filter + oc, total, bias, q, oc, p->input_offset, p->output_offset);
                    int8_t *dst = output + (b * out->h + oy0) * d.out_row + (maxout ? c : oc);
                    int32_t r = 0;
                    if (rows2 && band >= 2) {
                        d.row_pairs = band >> 1;
                        rows2(plane, 0, dst, &d); /* all row pairs of the band */
                        for (; r + 2 <= band; r += 2, dst += 2 * d.out_row) {
                            if (out_w & 1) { /* the last column of both rows */
                                const int8_t *src = plane + r * stride_h * pitch;
                                row_pixels_any(src, pitch, &d, dst, out_w - 1, out_w, stride_w, act_min, act_max,
                                               keep_max);
                                row_pixels_any(src + stride_h * pitch, pitch, &d, dst + d.out_row, out_w - 1, out_w,
                                               stride_w, act_min, act_max, keep_max);
                            }
                        }
                    }
                    for (; r < band; ++r, dst += d.out_row) {
                        row_pixels_any(plane + r * stride_h * pitch, pitch, &d, dst, 0, out_w, stride_w, act_min, act_max,
                                   keep_max);
                    }
                }
            }
        }
    }
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dw3x3_portable_build_has_no_dsp_path;
#endif
