/* 1x1 CONV_2D, DSP path: tiles of 2 output channels x 3 output pixels (fn_conv2d_s8 calls it).
 *
 * Both operands are expanded to int16 beforehand so that the inner loop only loads and multiplies: a
 * block of tiles is expanded once for all output channels (as 2 * (x + input_offset): the doubled
 * accumulator fn_requant_doubled wants comes for free), and the weights of one channel pair once per
 * block (after the pair's doubled biases, before its requantization words). Per pair of K values the
 * assembly then needs one LDM of the 2 channels' weight words, one LDM of the 3 pixels' input words
 * and 6 SMLADs: 8 instructions per 12 MACs. A tile's first pair of K values adds onto the biases
 * (no seeding); the other pairs are unrolled code entered part-way (K up to 96: no loop at all,
 * pw_tiles_short; longer K: a loop of 16, pw_tiles_long). Requantization is SMMLAR + sign + shift +
 * SSAT, as in fn_conv_block_s8, then one STRH per pixel (its 2 channels). One pixel left over runs
 * alone (pw_pixel), two take one more tile that ends at the last pixel. The block size follows the
 * scratch (tile_slots), which stays within the input map's bytes; maps (or K) with no room for 2
 * tiles keep the 4-pixel block path of conv2d_s8.c.
 *
 * Word layouts (int16 pairs as SXTB16 unpacks a word of 4 int8: pair A = values 0 and 2 of a group
 * of 4, pair B = values 1 and 3):
 *   inputs, tile t:  for each group g: [A px0, A px1, A px2, B px0, B px1, B px2]
 *   channel pair:    [2 b0, 2 b1], for each group g: [A w0, A w1, B w0, B w1],
 *                    then [m0, addend0, exponent0, m1, addend1, exponent1]
 */
#include "conv_internal.h"

#if FN_USE_DSP
#define PW_TILE 3            /* output pixels per tile */
#define PW_LOOP_PAIRS 16     /* pairs of K values per pass of pw_tiles_long's loop */
#define PW_SHORT_PAIRS 47    /* pw_tiles_short's unrolled pairs: K up to 96 */
#define FN_STR_(x) #x
#define FN_STR(x) FN_STR_(x)
#define PW_INPUT_BYTES 4096  /* expanded input tiles, at most */
#define PW_MAX_SLOTS 33
#define PW_MIN_SLOTS 2       /* blocks of 1 tile: the weights' expansion per tile costs more than it saves */
#define PW_PARAM_WORDS 8     /* 2 biases + 2 x (multiplier, addend, exponent) */

/* K rounded up to whole groups of 4. */
static int32_t padded_k(int32_t k) { return (k + 3) & ~3; }

/* Expanded input tiles the scratch holds: at most PW_MAX_SLOTS, as many as the input map has (the
 * pixels left over taking one), in at most PW_INPUT_BYTES and the input map's bytes (small layers keep
 * a small scratch: the arena's peak is often at one of them). Below PW_MIN_SLOTS the tiled path does
 * not apply. */
static int32_t tile_slots(const fn_dims *in)
{
    const int32_t pixels = in->n * in->h * in->w;
    const int32_t tile_bytes = PW_TILE * padded_k(in->c) * (int32_t)sizeof(int16_t);
    const int32_t needed = pixels / PW_TILE + (pixels % PW_TILE != 0);
    const int32_t room = fn_min32(PW_INPUT_BYTES, fn_dims_count(in)) / tile_bytes;
    return fn_min32(fn_min32(room, needed), PW_MAX_SLOTS);
}

int32_t fn_conv1x1_scratch_bytes(const fn_dims *in)
{
    const int32_t kp = padded_k(in->c), slots = tile_slots(in);
    if (slots < PW_MIN_SLOTS) {
        return 0;
    }
    const int32_t inputs = slots * PW_TILE * kp * (int32_t)sizeof(int16_t);
    const int32_t pair = (kp + PW_PARAM_WORDS) * (int32_t)sizeof(int32_t); /* 2 x K int16 + 8 words */
    return inputs + pair;
}

/* Up to 4 int8 from p, zeros past `count` (the K tail: its weights are zero, and no read passes
 * the pixel). */
static uint32_t read_tail(const int8_t *p, int32_t count)
{
    uint32_t v = 0;
    for (int32_t i = 0; i < count; ++i) {
        v |= (uint32_t)(uint8_t)p[i] << (8 * i);
    }
    return v;
}

/* The whole groups of 4 values of `tiles` tiles as 2 * (x + offset) words (groups >= 1, offset2: 2 *
 * offset in both halfwords): 3 LDR, 12 SXTAB16 and one STM of the group's 6 words per 12 values. The
 * first tile's pixels are px[0..2]; further tiles (stride 1, K = 4 * groups) follow them in memory. */
__attribute__((naked, noinline)) static void expand_tile_groups(FN_IN_ASM const int8_t *const px[3],
                                                                FN_IN_ASM int32_t groups,
                                                                FN_IN_ASM int32_t offset2, FN_IN_ASM int32_t *dst,
                                                                FN_IN_ASM int32_t tiles)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldr lr, [sp, #36]\n\t"          /* tiles */
        "mov r11, r2\n\t"
        "push {r1}\n\t"
        "ldm r0, {r0, r1, r2}\n\t"
        "ldr r12, [sp]\n\t"
        "1:\n\t"
        "ldr r7, [r0], #4\n\t"
        "ldr r8, [r1], #4\n\t"
        "ldr r9, [r2], #4\n\t"
        "sxtab16 r4, r11, r7\n\t"
        "sxtab16 r4, r4, r7\n\t"
        "sxtab16 r10, r11, r7, ror #8\n\t"
        "sxtab16 r7, r10, r7, ror #8\n\t"
        "sxtab16 r5, r11, r8\n\t"
        "sxtab16 r5, r5, r8\n\t"
        "sxtab16 r10, r11, r8, ror #8\n\t"
        "sxtab16 r8, r10, r8, ror #8\n\t"
        "sxtab16 r6, r11, r9\n\t"
        "sxtab16 r6, r6, r9\n\t"
        "sxtab16 r10, r11, r9, ror #8\n\t"
        "sxtab16 r9, r10, r9, ror #8\n\t"
        "stm r3!, {r4-r9}\n\t"
        "subs r12, r12, #1\n\t"
        "bne 1b\n\t"
        "ldr r12, [sp]\n\t"              /* the next tile: pixels r2, r2 + K, r2 + 2 K */
        "mov r0, r2\n\t"
        "add r1, r2, r12, lsl #2\n\t"
        "add r2, r2, r12, lsl #3\n\t"
        "subs lr, lr, #1\n\t"
        "bne 1b\n\t"
        "add sp, sp, #4\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* One tile: 3 pixels' K values as 2 * (x + offset), any K. */
static void expand_tile(const int8_t *const px[3], int32_t k, int32_t offset2, int32_t *dst)
{
    const int32_t whole = k >> 2;
    if (whole > 0) {
        expand_tile_groups(px, whole, offset2, dst, 1);
    }
    if (k & 3) {
        dst += 2 * PW_TILE * whole;
        for (int32_t j = 0; j < PW_TILE; ++j) {
            const uint32_t v = read_tail(px[j] + 4 * whole, k & 3);
            dst[j] = __sxtab16(__sxtab16(offset2, v), v);
            dst[PW_TILE + j] = fn_sxtab16_ror8(fn_sxtab16_ror8(offset2, v), v);
        }
    }
}

/* Input pixel of output pixel idx (1x1, no padding: the window is one pixel). */
static const int8_t *input_pixel(const fn_conv_params *p, const fn_dims *in, const int8_t *input,
                                 const fn_dims *out, int32_t idx)
{
    if (p->stride_h == 1 && p->stride_w == 1) {
        return input + idx * in->c;
    }
    const int32_t b = idx / (out->h * out->w), oy = (idx / out->w) % out->h, ox = idx % out->w;
    return input + ((b * in->h + oy * p->stride_h) * in->w + ox * p->stride_w) * in->c;
}

/* Weights of channels c and c + 1 with their bias and requantization words (layout above), any K. */
static void expand_pair(const int8_t *filter, int32_t k, int32_t c, const int32_t *bias,
                        const fn_channel_quant *q, int32_t output_offset, int32_t *dst)
{
    const int8_t *w0 = filter + c * k, *w1 = w0 + k;
    *dst++ = bias ? 2 * bias[c] : 0;
    *dst++ = bias ? 2 * bias[c + 1] : 0;
    for (int32_t i = 0; i < k; i += 4, dst += 4) {
        const uint32_t v0 = i + 4 <= k ? fn_read_u32(w0 + i) : read_tail(w0 + i, k - i);
        const uint32_t v1 = i + 4 <= k ? fn_read_u32(w1 + i) : read_tail(w1 + i, k - i);
        dst[0] = __sxtb16((int32_t)v0);
        dst[1] = __sxtb16((int32_t)v1);
        dst[2] = fn_sxtb16_ror8(v0);
        dst[3] = fn_sxtb16_ror8(v1);
    }
    for (int32_t j = 0; j < 2; ++j) {
        const int32_t exponent = -q->shift[c + j];
        *dst++ = q->multiplier[c + j];
        *dst++ = fn_requant_addend(exponent, output_offset);
        *dst++ = exponent;
    }
}

/* What expand_pair_fast reads (by offset, in this order). */
typedef struct {
    const int32_t *bias, *multiplier, *shift; /* at the pair's first channel */
    int32_t k;                                /* a multiple of 4 */
    int32_t offset2p1;                        /* 2 * output_offset + 1 */
} pw_pair_source;
FN_ASM_OFFSET(pw_pair_source, bias, 0);
FN_ASM_OFFSET(pw_pair_source, multiplier, 4);
FN_ASM_OFFSET(pw_pair_source, shift, 8);
FN_ASM_OFFSET(pw_pair_source, k, 12);
FN_ASM_OFFSET(pw_pair_source, offset2p1, 16);

/* expand_pair for K a multiple of 4 with a bias, the common case, in assembly: per 8 weights 2 LDR,
 * 4 SXTB16 and one STM; addend = (2 * offset + 1) << (exponent - 1), exponent - 1 = ~shift. */
__attribute__((naked, noinline)) static void expand_pair_fast(FN_IN_ASM const int8_t *w0,
                                                              FN_IN_ASM const pw_pair_source *source,
                                                              FN_IN_ASM int32_t *dst)
{
    __asm__ volatile(
        "push {r4-r9, lr}\n\t"
        "ldm r1, {r4-r8}\n\t"            /* bias, multiplier, shift, k, 2 * offset + 1 */
        "ldrd r12, lr, [r4]\n\t"
        "lsl r12, r12, #1\n\t"
        "lsl lr, lr, #1\n\t"
        "stm r2!, {r12, lr}\n\t"
        "lsr r9, r7, #2\n\t"
        "1:\n\t"
        "ldr r4, [r0, r7]\n\t"           /* 4 weights of channel c + 1 */
        "ldr r12, [r0], #4\n\t"          /* and of channel c */
        "sxtb16 r1, r12\n\t"
        "sxtb16 r12, r12, ror #8\n\t"
        "sxtb16 lr, r4, ror #8\n\t"
        "sxtb16 r4, r4\n\t"
        "stm r2!, {r1, r4, r12, lr}\n\t"
        "subs r9, r9, #1\n\t"
        "bne 1b\n\t"
        "ldr r1, [r5]\n\t"
        "ldr r12, [r6]\n\t"
        "mvn r4, r12\n\t"
        "lsl r4, r8, r4\n\t"
        "rsb r12, r12, #0\n\t"
        "stm r2!, {r1, r4, r12}\n\t"
        "ldr r1, [r5, #4]\n\t"
        "ldr r12, [r6, #4]\n\t"
        "mvn r4, r12\n\t"
        "lsl r4, r8, r4\n\t"
        "rsb r12, r12, #0\n\t"
        "stm r2, {r1, r4, r12}\n\t"
        "pop {r4-r9, pc}\n\t");
}

/* What the assembly reads (by offset, in this order). Tile t's 3 pixels are stored at end_j + index +
 * t * 3 * out_c with index = -3 * out_c * tiles, so the index reaching 0 ends the loop (the ends are
 * addresses, not pointers: the last two lie past the output). */
typedef struct {
    const int32_t *pair;   /* expanded channel pair */
    uintptr_t end0, end1, end2; /* the first tile's pixel 0, 1, 2 (first channel) + 3 * out_c * tiles */
    int32_t out_c3;        /* 3 * out_c */
    int32_t index;         /* -3 * out_c * tiles */
    int32_t passes;        /* pw_tiles_long: passes through its loop */
    int32_t skip;          /* pairs of the unrolled pairs skipped on entry (the first pass's) */
} pw_args;
FN_ASM_OFFSET(pw_args, pair, 0);
FN_ASM_OFFSET(pw_args, end0, 4);
FN_ASM_OFFSET(pw_args, end1, 8);
FN_ASM_OFFSET(pw_args, end2, 12);
FN_ASM_OFFSET(pw_args, out_c3, 16);
FN_ASM_OFFSET(pw_args, index, 20); /* also frame word 5, which PW_TILE_END stores back */
FN_ASM_OFFSET(pw_args, passes, 24);
FN_ASM_OFFSET(pw_args, skip, 28);

/* The pair of K values (2 channels x 3 pixels): exactly 32 bytes of code, as the entry arithmetic
 * (skip * 32) needs. */
#define PW_PAIR                              \
    "ldm.w r1!, {r10, r11}\n\t"              \
    "ldm.w r0!, {r2, r3, r12}\n\t"           \
    "smlad r4, r10, r2, r4\n\t"              \
    "smlad r5, r10, r3, r5\n\t"              \
    "smlad r6, r10, r12, r6\n\t"             \
    "smlad r7, r11, r2, r7\n\t"              \
    "smlad r8, r11, r3, r8\n\t"              \
    "smlad r9, r11, r12, r9\n\t"

/* Prologue: the pw_args words into r1-r8, r9 the unrolled pairs' start (label 5), r8 the entry past
 * `skip` of them (Thumb bit set). */
#define PW_PROLOGUE                          \
    "push {r4-r11, lr}\n\t"                  \
    "ldm r1, {r1-r8}\n\t"                    \
    "adr.w r9, 5f\n\t"                       \
    "add r8, r9, r8, lsl #5\n\t"             \
    "orr r8, r8, #1\n\t"

/* Label 1, a tile's first pair of K values: it adds onto the biases (the pair's first 2 words), so
 * the accumulators need no seeding. */
#define PW_FIRST_PAIR                        \
    "1:\n\t"                                 \
    "ldm r1!, {r6, r9, r10, r11}\n\t"        \
    "ldm r0!, {r2, r3, r12}\n\t"             \
    "smlad r4, r10, r2, r6\n\t"              \
    "smlad r5, r10, r3, r6\n\t"              \
    "smlad r6, r10, r12, r6\n\t"             \
    "smlad r7, r11, r2, r9\n\t"              \
    "smlad r8, r11, r3, r9\n\t"              \
    "smlad r9, r11, r12, r9\n\t"

/* fn_requant_doubled + __ssat of ACC (already doubled): r2 multiplier, r3 addend, r12 exponent,
 * r10 scratch; the sign as in fn_conv_block_s8 (conv2d_s8_dsp.c). */
#define PW_REQUANT(ACC)                         \
    "smmlar r10, " ACC ", r2, r3\n\t"           \
    "add " ACC ", r10, " ACC ", asr #31\n\t"    \
    "asr " ACC ", " ACC ", r12\n\t"             \
    "ssat " ACC ", #8, " ACC "\n\t"

/* After a tile's last pair (r1 at the pair's requantization words): the 6 outputs, the 2 channels of a
 * pixel as one halfword (BFI, STRH: Cortex-M4/M7 store unaligned halfwords) at end_j + index; the frame's words 0-6 come back into r1 (the pair again), r2, r3,
 * r10, r11, r12 and lr (for the next tile), then on to label 1 while inputs are left. */
#define PW_TILE_END                                                                   \
    "ldm r1!, {r2, r3, r12}\n\t"                                                      \
    PW_REQUANT("r4") PW_REQUANT("r5") PW_REQUANT("r6")                                \
    "ldm r1, {r2, r3, r12}\n\t"                                                       \
    PW_REQUANT("r7") PW_REQUANT("r8") PW_REQUANT("r9")                                \
    "ldm sp, {r1, r2, r3, r10, r11, r12, lr}\n\t"                                     \
    "bfi r4, r7, #8, #8\n\t"                                                          \
    "strh r4, [r2, r12]\n\t"                                                          \
    "bfi r5, r8, #8, #8\n\t"                                                          \
    "strh r5, [r3, r12]\n\t"                                                          \
    "bfi r6, r9, #8, #8\n\t"                                                          \
    "strh r6, [r10, r12]\n\t"                                                         \
    "adds r12, r12, r11\n\t"                                                          \
    "str r12, [sp, #20]\n\t"                                                          \
    "bne 1b\n\t"

/* Every tile from x on against one channel pair, K up to 2 * (PW_SHORT_PAIRS + 1): the
 * pairs after the first are PW_SHORT_PAIRS unrolled ones entered past `skip`, with no loop, so the
 * entry address can stay in lr (frame word 6). r0 inputs, r1 pair, r4-r6 / r7-r9 the 2 channels'
 * accumulators of pixels 0-2; frame [sp]: pw_args words 0-5 and the entry. */
__attribute__((naked, noinline)) static void pw_tiles_short(FN_IN_ASM const int32_t *x,
                                                            FN_IN_ASM const pw_args *args)
{
    __asm__ volatile(
        PW_PROLOGUE
        "push {r1-r6, r8}\n\t"
        "mov lr, r8\n\t"
        PW_FIRST_PAIR
        "bx lr\n\t"
        "5:\n\t"
        ".rept " FN_STR(PW_SHORT_PAIRS) "\n\t" PW_PAIR ".endr\n\t"
        PW_TILE_END
        "add sp, sp, #28\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* The same for any K: PW_LOOP_PAIRS unrolled pairs in a loop of `passes` (lr), entered past `skip` on
 * the first pass; frame [sp]: pw_args words 0-6 and the entry. */
__attribute__((naked, noinline)) static void pw_tiles_long(FN_IN_ASM const int32_t *x,
                                                           FN_IN_ASM const pw_args *args)
{
    __asm__ volatile(
        PW_PROLOGUE
        "push {r1-r8}\n\t"
        "mov lr, r7\n\t"
        PW_FIRST_PAIR
        "ldr r2, [sp, #28]\n\t"
        "bx r2\n\t"
        "5:\n\t"
        ".rept " FN_STR(PW_LOOP_PAIRS) "\n\t" PW_PAIR ".endr\n\t"
        "subs lr, lr, #1\n\t"
        "bne 5b\n\t"
        PW_TILE_END
        "add sp, sp, #32\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* Expands `count` tiles of 3 consecutive output pixels from output pixel `first` on. */
static void expand_tiles(const fn_conv_params *p, const fn_dims *in, const int8_t *input, const fn_dims *out,
                         int32_t first, int32_t count, int32_t *dst)
{
    const uint16_t offset_doubled = (uint16_t)(2 * p->input_offset);
    const int32_t offset2 = (int32_t)(((uint32_t)offset_doubled << 16) | offset_doubled);
    const int32_t k = in->c, tile_words = PW_TILE * padded_k(k) / 2;
    if (p->stride_h == 1 && p->stride_w == 1 && (k & 3) == 0) { /* all tiles in one call */
        const int8_t *const px[PW_TILE] = {input + first * k, input + (first + 1) * k, input + (first + 2) * k};
        expand_tile_groups(px, k >> 2, offset2, dst, count);
        return;
    }
    for (int32_t t = 0; t < count; ++t, dst += tile_words) {
        const int32_t idx = first + t * PW_TILE;
        const int8_t *const px[PW_TILE] = {input_pixel(p, in, input, out, idx),
                                           input_pixel(p, in, input, out, idx + 1),
                                           input_pixel(p, in, input, out, idx + 2)};
        expand_tile(px, k, offset2, dst);
    }
}

/* One pixel against one channel pair (the last pixel of a map of 3 t + 1): x is the pixel's column in
 * an expanded tile (its words 3 apart), groups = K / 4 rounded up; per 4 K values one LDM of the 4
 * weight words, 2 LDR, 4 SMLAD; then requantization and one STRH as in the tiles. */
__attribute__((naked, noinline)) static void pw_pixel(FN_IN_ASM const int32_t *x, FN_IN_ASM const int32_t *pair,
                                                      FN_IN_ASM int8_t *dst, FN_IN_ASM int32_t groups)
{
    __asm__ volatile(
        "push {r4-r9, lr}\n\t"
        "ldm r1!, {r4, r5}\n\t"          /* the doubled biases */
        "1:\n\t"
        "ldm r1!, {r6-r9}\n\t"           /* A w0, A w1, B w0, B w1 */
        "ldr r12, [r0], #12\n\t"
        "ldr lr, [r0], #12\n\t"
        "smlad r4, r6, r12, r4\n\t"
        "smlad r5, r7, r12, r5\n\t"
        "smlad r4, r8, lr, r4\n\t"
        "smlad r5, r9, lr, r5\n\t"
        "subs r3, r3, #1\n\t"
        "bne 1b\n\t"
        "ldm r1!, {r6, r7, r12}\n\t"
        "smmlar r3, r4, r6, r7\n\t"
        "add r4, r3, r4, asr #31\n\t"
        "asr r4, r4, r12\n\t"
        "ssat r4, #8, r4\n\t"
        "ldm r1, {r6, r7, r12}\n\t"
        "smmlar r3, r5, r6, r7\n\t"
        "add r5, r3, r5, asr #31\n\t"
        "asr r5, r5, r12\n\t"
        "ssat r5, #8, r5\n\t"
        "bfi r4, r5, #8, #8\n\t"
        "strh r4, [r2]\n\t"
        "pop {r4-r9, pc}\n\t");
}

/* args for `tiles` tiles whose first output byte is end - 3 * out_c * tiles bytes into output. */
static const pw_args *pw_place(pw_args *args, int8_t *output, int32_t end, int32_t out_c, int32_t tiles)
{
    args->end0 = (uintptr_t)output + (uint32_t)end;
    args->end1 = args->end0 + (uint32_t)out_c;
    args->end2 = args->end1 + (uint32_t)out_c;
    args->index = -3 * out_c * tiles;
    return args;
}

int32_t fn_conv1x1_tiles(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in,
                         const int8_t *input, const int8_t *filter, const int32_t *bias, const fn_dims *out,
                         int8_t *output, void *scratch)
{
    const int32_t k = in->c, out_c = out->c, pixels = out->n * out->h * out->w, slots = tile_slots(in);
    if (pixels < PW_TILE || slots < PW_MIN_SLOTS) {
        return 0;
    }
    const int32_t tiles = pixels / PW_TILE, left = pixels % PW_TILE;
    const int32_t pairs = padded_k(k) / 2, tile_words = PW_TILE * pairs;
    const int short_k = pairs - 1 <= PW_SHORT_PAIRS, fast_pairs = bias && (k & 3) == 0;
    void (*const run)(const int32_t *, const pw_args *) = short_k ? pw_tiles_short : pw_tiles_long;
    const int32_t passes = (pairs - 1 + PW_LOOP_PAIRS - 1) / PW_LOOP_PAIRS;
    int32_t *const inputs = (int32_t *)scratch;
    int32_t *const pair = inputs + slots * tile_words;
    pw_args args = {pair, 0, 0, 0, 3 * out_c, 0, passes,
                    short_k ? PW_SHORT_PAIRS - (pairs - 1) : passes * PW_LOOP_PAIRS - (pairs - 1)};
    for (int32_t t0 = 0, count; t0 < tiles; t0 += count) {
        count = fn_min32(slots, tiles - t0);
        /* The last block also takes the 1-2 pixels left over: one more tile in a slot of its own, ending
         * at the last pixel (a last block with no slot left hands its last tile on to one more block);
         * 2 left: the whole tile (it recomputes 1 pixel, storing the same bytes again), 1 left: its last
         * pixel alone (pw_pixel). */
        count -= left && t0 + count == tiles && count == slots;
        const int extra = left && t0 + count == tiles;
        expand_tiles(p, in, input, out, t0 * PW_TILE, count, inputs);
        if (extra) {
            expand_tiles(p, in, input, out, pixels - PW_TILE, 1, inputs + count * tile_words);
        }
        /* Odd out_c: the last pair is (out_c - 2, out_c - 1), storing channel out_c - 2 again. */
        for (int32_t c0 = 0; c0 < out_c; c0 += 2) {
            const int32_t c = fn_min32(c0, out_c - 2);
            if (fast_pairs) {
                const pw_pair_source source = {bias + c, q->multiplier + c, q->shift + c, k, 2 * p->output_offset + 1};
                expand_pair_fast(filter + c * k, &source, pair);
            } else {
                expand_pair(filter, k, c, bias, q, p->output_offset, pair);
            }
            run(inputs, pw_place(&args, output, (t0 + count) * PW_TILE * out_c + c, out_c, count));
            if (extra && left == 1) {
                pw_pixel(inputs + count * tile_words + PW_TILE - 1, pair, output + (pixels - 1) * out_c + c,
                         pairs / 2);
            } else if (extra) {
                run(inputs + count * tile_words, pw_place(&args, output, pixels * out_c + c, out_c, 1));
            }
        }
    }
    return pixels;
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_conv1x1_portable_build_has_no_dsp_core;
#endif
