/* FULLY_CONNECTED on row-pair packed weights, DSP path of fully_connected_pairs_s8.c (Cortex-M4/M7), which
 * includes this file: static functions the entry point inlines (the assembly routines are naked, so never
 * inlined).
 *
 * A lane word holds rows 2p and 2p+1 for 2 inputs, (w0[a] + 256 w1[a], w0[b] + 256 w1[b]). Against the input
 * pair (x[a], x[b]) one SMLAD adds w0 . x + 256 (w1 . x) to the first accumulator, SXTB16 of the word leaves
 * (w0[a], w0[b]) for a second SMLAD into the second accumulator (row 2p alone): 4 MACs in 3 instructions
 * and a load share, and row 2p+1 is (first - second) / 256, exact while |w1 . x| < 2^23, i.e. for at most
 * FC_PAIRS_CHUNK groups of 4 inputs between two take-outs. The input is widened to int16 once per batch
 * row (the scratch), so one LDRD brings 4 inputs for all pairs of a pass. */
#ifndef FN_FULLY_CONNECTED_PAIRS_S8_DSP_H
#define FN_FULLY_CONNECTED_PAIRS_S8_DSP_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* Groups of 4 inputs summed before row 2p+1 is taken out of the first accumulator: 512 * 127 * 128 < 2^23
 * (flynet_tiny/codegen/fc_pairs.py CHUNK_GROUPS). */
#define FC_PAIRS_CHUNK 128
_Static_assert(FC_PAIRS_CHUNK == 128, "fc_pairs_quads' assembly counts chunks of 128 groups");

/* Whether the layer's quads read the raw input, widening each group in the quad's loop (2 more instructions
 * per group of each quad, no scratch): one batch row of in_features a multiple of 4 and 4 or 8 outputs, where
 * widening the input once for all quads (3.75 instructions per group) costs about as much or more. */
static int fc_pairs_raw_input(int32_t batches, int32_t in_features, int32_t out_features)
{
    return batches == 1 && (in_features & 3) == 0 && (out_features == 4 || out_features == 8);
}

/* One batch row widened to int16 (in_features rounded up to a group of 4), two where there are 2 or more,
 * none where the quads read the raw input. */
static int32_t fc_pairs_scratch_bytes(int32_t batches, int32_t in_features, int32_t out_features)
{
    if (fc_pairs_raw_input(batches, in_features, out_features)) {
        return 0;
    }
    return ((in_features + 3) & ~3) * 2 * (batches >= 2 ? 2 : 1);
}

/* The input as int16, per group of 4 inputs (x0, x2), (x1, x3): SXTB16 and SXTB16 ror 8 of its word; the
 * last group's missing inputs are 0. */
/* `quads` x 4 groups of x (any alignment) into xs: 4 word loads, 8 SXTB16 and one STM of 8 words, 15
 * instructions per 16 inputs (the compiled loop took about 8 per 4). */
__attribute__((naked, noinline)) static void fc_pairs_widen_quads(FN_IN_ASM const int8_t *x, FN_IN_ASM int16_t *xs,
                                                                  FN_IN_ASM int32_t quads)
{
    __asm__ volatile(
        "push {r4-r11}\n\t"
        "1:\n\t"
        "ldr r4, [r0], #4\n\t"
        "ldr r6, [r0], #4\n\t"
        "ldr r8, [r0], #4\n\t"
        "ldr r10, [r0], #4\n\t"
        "sxtb16 r5, r4, ror #8\n\t"
        "sxtb16 r4, r4\n\t"
        "sxtb16 r7, r6, ror #8\n\t"
        "sxtb16 r6, r6\n\t"
        "sxtb16 r9, r8, ror #8\n\t"
        "sxtb16 r8, r8\n\t"
        "sxtb16 r11, r10, ror #8\n\t"
        "sxtb16 r10, r10\n\t"
        "stmia r1!, {r4-r11}\n\t"
        "subs r2, r2, #1\n\t"
        "bne 1b\n\t"
        "pop {r4-r11}\n\t"
        "bx lr\n\t");
}

static void fc_pairs_widen(const int8_t *x, int32_t n, int16_t *xs)
{
    int32_t k = n & ~15;
    if (k) {
        fc_pairs_widen_quads(x, xs, k >> 4);
    }
    for (; k + 4 <= n; k += 4) {
        const uint32_t v = fn_read_u32(x + k);
        fn_write_pair(xs + k, __sxtb16(v));
        fn_write_pair(xs + k + 2, fn_sxtb16_ror8(v));
    }
    if (k < n) {
        uint32_t v = 0;
        for (int32_t i = 0; k + i < n; ++i) {
            v |= (uint32_t)(uint8_t)x[k + i] << (8 * i);
        }
        fn_write_pair(xs + k, __sxtb16(v));
        fn_write_pair(xs + k + 2, fn_sxtb16_ror8(v));
    }
}

/* One group for 2 pairs: the 4 inputs in r8 / r9, the pairs' 4 lane words loaded into r10-r12, lr;
 * accumulators r4 (pair 0 both rows), r5 (pair 0 row 0), r6, r7 (pair 1). */
#define FC_QUAD_GROUP                        \
    "ldrd r8, r9, [r0], #8\n\t"              \
    "ldmia r1!, {r10, r11, r12, lr}\n\t"     \
    FC_QUAD_GROUP_MACS

/* The group's 12 multiply instructions: inputs r8 / r9, lane words r10-r12, lr. */
#define FC_QUAD_GROUP_MACS                   \
    "smlad r4, r10, r8, r4\n\t"              \
    "smlad r4, r11, r9, r4\n\t"              \
    "sxtb16 r10, r10\n\t"                    \
    "sxtb16 r11, r11\n\t"                    \
    "smlad r5, r10, r8, r5\n\t"              \
    "smlad r5, r11, r9, r5\n\t"              \
    "smlad r6, r12, r8, r6\n\t"              \
    "smlad r6, lr, r9, r6\n\t"               \
    "sxtb16 r12, r12\n\t"                    \
    "sxtb16 lr, lr\n\t"                      \
    "smlad r7, r12, r8, r7\n\t"              \
    "smlad r7, lr, r9, r7\n\t"

/* r3 (>= 1) groups of `group`: 4 per iteration, then one at a time; falls through at its end. */
#define FC_GROUPS(group)                                                    \
    "subs r3, r3, #4\n\t"                                                    \
    "blt 2f\n\t"                                                             \
    "1:\n\t" group group group group                                         \
    "subs r3, r3, #4\n\t"                                                    \
    "bge 1b\n\t"                                                             \
    "2:\n\t"                                                                 \
    "adds r3, r3, #4\n\t"                                                    \
    "beq 4f\n\t"                                                             \
    "3:\n\t" group                                                           \
    "subs r3, r3, #1\n\t"                                                    \
    "bne 3b\n\t"

/* acc[0..3] (pair 0 both rows, pair 0 row 0, pair 1 both, pair 1 row 0) += `groups` groups (>= 1) of the
 * widened input xs against a quad's lanes w: 4 groups per iteration, 58 instructions per 64 MACs. */
__attribute__((naked, noinline)) static void fc_pairs_quad(FN_IN_ASM const int16_t *xs, FN_IN_ASM const int8_t *w,
                                                           FN_IN_ASM int32_t acc[4], FN_IN_ASM int32_t groups)
{
    __asm__ volatile(
        "push {r2, r4-r11, lr}\n\t"
        "ldm r2, {r4-r7}\n\t"
        FC_GROUPS(FC_QUAD_GROUP)
        "4:\n\t"
        "pop {r2}\n\t"
        "stm r2, {r4-r7}\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* acc[0..1] (both rows, row 0) += `groups` groups (>= 1) of xs against a lone pair's lanes w: 2 groups per
 * iteration (one LDM of 8 inputs, one of the pair's 4 lane words), 16 instructions per 16 MACs. */
__attribute__((naked, noinline)) static void fc_pairs_one(FN_IN_ASM const int16_t *xs, FN_IN_ASM const int8_t *w,
                                                          FN_IN_ASM int32_t acc[2], FN_IN_ASM int32_t groups)
{
    __asm__ volatile(
        "push {r2, r4-r11, lr}\n\t"
        "ldrd r4, r5, [r2]\n\t"
        "subs r3, r3, #2\n\t"
        "blt 2f\n\t"
        "1:\n\t"
        "ldmia r0!, {r6, r7, r8, r9}\n\t"      /* groups g, g + 1: (x0, x2), (x1, x3) each */
        "ldmia r1!, {r10, r11, r12, lr}\n\t"
        "smlad r4, r10, r6, r4\n\t"
        "smlad r4, r11, r7, r4\n\t"
        "smlad r4, r12, r8, r4\n\t"
        "smlad r4, lr, r9, r4\n\t"
        "sxtb16 r10, r10\n\t"
        "sxtb16 r11, r11\n\t"
        "sxtb16 r12, r12\n\t"
        "sxtb16 lr, lr\n\t"
        "smlad r5, r10, r6, r5\n\t"
        "smlad r5, r11, r7, r5\n\t"
        "smlad r5, r12, r8, r5\n\t"
        "smlad r5, lr, r9, r5\n\t"
        "subs r3, r3, #2\n\t"
        "bge 1b\n\t"
        "2:\n\t"
        "adds r3, r3, #2\n\t"
        "beq 3f\n\t"
        "ldrd r6, r7, [r0], #8\n\t"            /* the odd group */
        "ldrd r8, r9, [r1], #8\n\t"
        "smlad r4, r8, r6, r4\n\t"
        "smlad r4, r9, r7, r4\n\t"
        "sxtb16 r8, r8\n\t"
        "sxtb16 r9, r9\n\t"
        "smlad r5, r8, r6, r5\n\t"
        "smlad r5, r9, r7, r5\n\t"
        "3:\n\t"
        "pop {r2}\n\t"
        "strd r4, r5, [r2]\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* Label 6: the next chunk's groups into r3 (at most FC_PAIRS_CHUNK of the r3 left), those left after it to
 * [sp, #8]. */
#define FC_CHUNK_START             \
    "6:\n\t"                       \
    "subs r3, r3, #128\n\t"        \
    "str r3, [sp, #8]\n\t"         \
    "ite gt\n\t"                   \
    "movgt r3, #128\n\t"           \
    "addle r3, r3, #128\n\t"

/* What fc_pairs_quads reads and advances: the quads of one batch row. */
typedef struct {
    const int16_t *xs;     /* the widened input */
    const int8_t *w;       /* the next quad's lanes (advanced) */
    const int32_t *bias;   /* the next quad's 4 biases (advanced) */
    const int32_t *rq;     /* the next output's (multiplier, s = -shift - 1) (advanced by rq_bytes) */
    int8_t *y;             /* the next quad's 4 outputs (advanced) */
    int32_t groups;        /* >= 1 */
    int32_t quads;         /* >= 1 */
    int32_t rq_bytes;      /* 8 per channel, 0 for one pair of words */
    uint32_t min4, max4;   /* act_min, act_max in each byte */
    int32_t rounding;      /* 2 * output_offset + 1: addend = rounding << s */
} fc_pairs_job;
FN_ASM_OFFSET(fc_pairs_job, xs, 0);
FN_ASM_OFFSET(fc_pairs_job, w, 4);
FN_ASM_OFFSET(fc_pairs_job, bias, 8);
FN_ASM_OFFSET(fc_pairs_job, rq, 12);
FN_ASM_OFFSET(fc_pairs_job, y, 16);
FN_ASM_OFFSET(fc_pairs_job, groups, 20);
FN_ASM_OFFSET(fc_pairs_job, quads, 24);
FN_ASM_OFFSET(fc_pairs_job, rq_bytes, 28);
FN_ASM_OFFSET(fc_pairs_job, min4, 32);
FN_ASM_OFFSET(fc_pairs_job, max4, 36);
FN_ASM_OFFSET(fc_pairs_job, rounding, 40);

/* fn_requant_doubled of the accumulator in `acc` with the words at r3 (r10 multiplier, r11 s = exponent - 1;
 * r3 steps by r4) and r0 = 2 * output_offset + 1: addend = r0 << s = 2^(e-1) + (output_offset << e), and
 * the shift by e = s + 1 is an ASR by s and SSAT's ASR #1, which saturates to int8. */
#define FC_REQUANT(acc)                                  \
    "ldrd r10, r11, [r3]\n\t"                           \
    "add r3, r3, r4\n\t"                                 \
    "lsl r12, r0, r11\n\t"                               \
    "lsl " acc ", " acc ", #1\n\t"                        \
    "smmulr " acc ", " acc ", r10\n\t"                    \
    "add r12, r12, " acc "\n\t"                           \
    "add " acc ", r12, " acc ", asr #31\n\t"              \
    "asr " acc ", " acc ", r11\n\t"                        \
    "ssat " acc ", #8, " acc ", asr #1\n\t"

/* Every quad of job (all 4 rows real, fast requantization): accumulate (as fc_pairs_quad, one group of 4
 * inputs by `group`) in chunks of at most FC_PAIRS_CHUNK groups, taking rows 2p+1 out after each,
 * requantize the 4 sums, pack them into one word, clamp its 4 bytes to the activation range by SSUB8 / SEL
 * and store it: about 75 instructions per quad beside the groups' 58 per 4. Stack: rows 1 and 3 so far,
 * the groups left after this chunk. */
#define FC_QUADS_BODY(group) \
        "push {r4-r11, lr}\n\t" \
        "sub sp, sp, #12\n\t" \
        "mov r2, r0\n\t" \
        "ldr r1, [r2, #4]\n\t" \
        "5:\n\t" \
        "ldr r0, [r2, #0]\n\t" \
        "ldr r12, [r2, #8]\n\t" \
        "ldm r12!, {r4-r7}\n\t" \
        "str r12, [r2, #8]\n\t" \
        "strd r5, r7, [sp]\n\t"          /* rows 1 and 3 start from their biases */ \
        "mov r5, r4\n\t" \
        "mov r7, r6\n\t" \
        "ldr r3, [r2, #20]\n\t" \
        FC_CHUNK_START \
        FC_GROUPS(group) \
        "4:\n\t" \
        "ldrd r8, r9, [sp]\n\t" \
        "sub r10, r4, r5\n\t" \
        "add r8, r8, r10, asr #8\n\t"    /* row 1 */ \
        "sub r10, r6, r7\n\t" \
        "add r9, r9, r10, asr #8\n\t"    /* row 3 */ \
        "ldr r3, [sp, #8]\n\t" \
        "cmp r3, #0\n\t" \
        "ble 7f\n\t" \
        "strd r8, r9, [sp]\n\t"          /* another chunk: the first accumulators start again at row 0's */ \
        "mov r4, r5\n\t" \
        "mov r6, r7\n\t" \
        "b 6b\n\t" \
        "7:\n\t" \
        "ldr r3, [r2, #12]\n\t" \
        "ldr r4, [r2, #28]\n\t" \
        "ldr r0, [r2, #40]\n\t" \
        FC_REQUANT("r5") FC_REQUANT("r8") FC_REQUANT("r7") FC_REQUANT("r9") \
        "str r3, [r2, #12]\n\t" \
        "bfi r5, r8, #8, #8\n\t" \
        "bfi r5, r7, #16, #8\n\t" \
        "bfi r5, r9, #24, #8\n\t" \
        "ldrd r10, r11, [r2, #32]\n\t" \
        "ssub8 r12, r5, r10\n\t" \
        "sel r5, r5, r10\n\t"            /* max(y, act_min) per byte */ \
        "ssub8 r12, r11, r5\n\t" \
        "sel r5, r5, r11\n\t"            /* min(y, act_max) per byte */ \
        "ldr r12, [r2, #16]\n\t" \
        "str r5, [r12], #4\n\t" \
        "str r12, [r2, #16]\n\t" \
        "ldr r3, [r2, #24]\n\t" \
        "subs r3, r3, #1\n\t" \
        "str r3, [r2, #24]\n\t" \
        "bne 5b\n\t" \
        "str r1, [r2, #4]\n\t" \
        "add sp, sp, #12\n\t" \
        "pop {r4-r11, pc}\n\t"

/* The input widened beforehand (job->xs): 14 instructions per group, the widening shared by every quad. */
__attribute__((naked, noinline)) static void fc_pairs_quads(FN_IN_ASM fc_pairs_job *job)
{
    __asm__ volatile(FC_QUADS_BODY(FC_QUAD_GROUP));
}

/* One group for 2 pairs from the raw input (r0: int8, any alignment) widened here: 16 instructions, no
 * scratch; for layers of few quads, where a widening shared by all would cost more. */
#define FC_QUAD_GROUP_RAW                    \
    "ldr r8, [r0], #4\n\t"                   \
    "sxtb16 r9, r8, ror #8\n\t"              \
    "sxtb16 r8, r8\n\t"                      \
    "ldmia r1!, {r10, r11, r12, lr}\n\t"     \
    FC_QUAD_GROUP_MACS

/* job->xs is the raw int8 input (in_features a multiple of 4). */
__attribute__((naked, noinline)) static void fc_pairs_quads_raw(FN_IN_ASM fc_pairs_job *job)
{
    __asm__ volatile(FC_QUADS_BODY(FC_QUAD_GROUP_RAW));
}

/* One group of 2 batch rows for one pair: the rows' inputs r6, r7 (row 0) and r8, r9 (row 1), the pair's
 * 2 lane words r10, r11 (a quad's pair: the next group's 16 bytes on); accumulators r4 / r5 (row 0: both
 * output rows, the even one), r12 / lr (row 1). */
#define FC_ROWS2_GROUP                       \
    "ldmia r0!, {r6, r7, r8, r9}\n\t"        \
    "ldrd r10, r11, [r1], #16\n\t"           \
    "smlad r4, r10, r6, r4\n\t"              \
    "smlad r4, r11, r7, r4\n\t"              \
    "smlad r12, r10, r8, r12\n\t"            \
    "smlad r12, r11, r9, r12\n\t"            \
    "sxtb16 r10, r10\n\t"                    \
    "sxtb16 r11, r11\n\t"                    \
    "smlad r5, r10, r6, r5\n\t"              \
    "smlad r5, r11, r7, r5\n\t"              \
    "smlad lr, r10, r8, lr\n\t"              \
    "smlad lr, r11, r9, lr\n\t"

/* fn_requant_doubled of `acc` with r9 (multiplier), r10 (s = exponent - 1) and r0 (2 * output_offset + 1)
 * as FC_REQUANT, kept for the other row's output of the same channel; r8 scratch. */
#define FC_REQUANT_KEEP(acc)                             \
    "lsl r8, r0, r10\n\t"                                \
    "lsl " acc ", " acc ", #1\n\t"                        \
    "smmulr " acc ", " acc ", r9\n\t"                     \
    "add r8, r8, " acc "\n\t"                             \
    "add " acc ", r8, " acc ", asr #31\n\t"               \
    "asr " acc ", " acc ", r10\n\t"                       \
    "ssat " acc ", #8, " acc ", asr #1\n\t"

/* What fc_pairs_rows2 reads and advances: the pairs of whole quads for 2 batch rows. */
typedef struct {
    const int16_t *xs;     /* both rows widened, per group: row 0's 2 words, row 1's */
    const int8_t *w;       /* the next pair's first lane word (advanced) */
    const int32_t *bias;   /* the next pair's 2 biases (advanced) */
    const int32_t *rq;     /* the next output channel's (multiplier, s) (advanced by rq_bytes) */
    int8_t *y;             /* row 0's next 2 outputs (advanced); row 1's are row_bytes on */
    int32_t groups;        /* >= 1 */
    int32_t pairs;         /* even, >= 2 */
    int32_t rq_bytes;      /* 8 per channel, 0 for one pair of words */
    uint32_t min4, max4;   /* act_min, act_max in each byte */
    int32_t row_bytes;     /* out_features */
    int32_t rounding;      /* 2 * output_offset + 1 */
} fc_pairs_job2;
FN_ASM_OFFSET(fc_pairs_job2, xs, 0);
FN_ASM_OFFSET(fc_pairs_job2, w, 4);
FN_ASM_OFFSET(fc_pairs_job2, bias, 8);
FN_ASM_OFFSET(fc_pairs_job2, rq, 12);
FN_ASM_OFFSET(fc_pairs_job2, y, 16);
FN_ASM_OFFSET(fc_pairs_job2, groups, 20);
FN_ASM_OFFSET(fc_pairs_job2, pairs, 24);
FN_ASM_OFFSET(fc_pairs_job2, rq_bytes, 28);
FN_ASM_OFFSET(fc_pairs_job2, min4, 32);
FN_ASM_OFFSET(fc_pairs_job2, max4, 36);
FN_ASM_OFFSET(fc_pairs_job2, row_bytes, 40);
FN_ASM_OFFSET(fc_pairs_job2, rounding, 44);

/* Every pair of job's whole quads for 2 batch rows (fast requantization): each lane word serves both rows,
 * 12 instructions per 16 MACs; chunks and take-outs as fc_pairs_quads; the 4 outputs (2 rows x 2 channels)
 * requantized with one triple load per channel, packed, clamped by SSUB8 / SEL, one STRH per row. A quad's
 * second pair starts 8 bytes after its first; after it the next quad's first pair starts where the
 * second pair's walk ended, 8 bytes back. Stack: row 2p+1 of both rows so far, the groups left. */
__attribute__((naked, noinline)) static void fc_pairs_rows2(FN_IN_ASM fc_pairs_job2 *job)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #12\n\t"
        "mov r2, r0\n\t"
        "5:\n\t"
        "ldr r0, [r2, #0]\n\t"
        "ldr r1, [r2, #4]\n\t"
        "ldr r12, [r2, #8]\n\t"
        "ldrd r4, r5, [r12], #8\n\t"
        "str r12, [r2, #8]\n\t"
        "mov r6, r5\n\t"
        "strd r5, r6, [sp]\n\t"          /* both rows' odd channel start from its bias */
        "mov r5, r4\n\t"
        "mov r12, r4\n\t"
        "mov lr, r4\n\t"
        "ldr r3, [r2, #20]\n\t"
        FC_CHUNK_START
        FC_GROUPS(FC_ROWS2_GROUP)
        "4:\n\t"
        "ldrd r6, r7, [sp]\n\t"
        "sub r8, r4, r5\n\t"
        "add r6, r6, r8, asr #8\n\t"     /* row 0, odd channel */
        "sub r8, r12, lr\n\t"
        "add r7, r7, r8, asr #8\n\t"     /* row 1, odd channel */
        "ldr r3, [sp, #8]\n\t"
        "cmp r3, #0\n\t"
        "ble 7f\n\t"
        "strd r6, r7, [sp]\n\t"
        "mov r4, r5\n\t"
        "mov r12, lr\n\t"
        "b 6b\n\t"
        "7:\n\t"
        "ldr r3, [r2, #12]\n\t"
        "ldr r4, [r2, #28]\n\t"
        "ldr r0, [r2, #44]\n\t"
        "ldrd r9, r10, [r3]\n\t"
        "add r3, r3, r4\n\t"
        FC_REQUANT_KEEP("r5") FC_REQUANT_KEEP("lr")
        "ldrd r9, r10, [r3]\n\t"
        "add r3, r3, r4\n\t"
        FC_REQUANT_KEEP("r6") FC_REQUANT_KEEP("r7")
        "str r3, [r2, #12]\n\t"
        "bfi r5, r6, #8, #8\n\t"
        "bfi r5, lr, #16, #8\n\t"
        "bfi r5, r7, #24, #8\n\t"
        "ldrd r10, r11, [r2, #32]\n\t"
        "ssub8 r12, r5, r10\n\t"
        "sel r5, r5, r10\n\t"            /* max(y, act_min) per byte */
        "ssub8 r12, r11, r5\n\t"
        "sel r5, r5, r11\n\t"            /* min(y, act_max) per byte */
        "ldr r8, [r2, #16]\n\t"
        "ldr r9, [r2, #40]\n\t"
        "add r9, r8, r9\n\t"
        "strh r5, [r8], #2\n\t"          /* row 0's 2 channels */
        "lsr r5, r5, #16\n\t"
        "strh r5, [r9]\n\t"              /* row 1's */
        "str r8, [r2, #16]\n\t"
        "ldr r3, [r2, #24]\n\t"
        "subs r3, r3, #1\n\t"
        "str r3, [r2, #24]\n\t"
        "beq 8f\n\t"
        "ldr r0, [r2, #4]\n\t"
        "tst r3, #1\n\t"
        "ite ne\n\t"
        "addne r1, r0, #8\n\t"           /* the quad's second pair */
        "subeq r1, r1, #8\n\t"           /* the next quad's first pair */
        "str r1, [r2, #4]\n\t"
        "b 5b\n\t"
        "8:\n\t"
        "add sp, sp, #12\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* Row 2p+1's sum so far out of the pair's accumulators (first - second = 256 x it), and the first reset. */
static inline int32_t fc_pairs_take_high(int32_t *both, int32_t row0)
{
    const int32_t high = (int32_t)((uint32_t)*both - (uint32_t)row0) >> 8;
    *both = row0;
    return high;
}

/* One output from its sum in C (the sums the assembly quads do not requantize themselves); rq: (multiplier,
 * s = -shift - 1). Not inlined: one copy for every caller. */
static __attribute__((noinline)) int8_t fc_pairs_out(const fn_fc_pairs_params *p, const int32_t *rq, int32_t acc)
{
    int32_t v;
    if (p->fast_requant) {
        const int32_t addend = (int32_t)((uint32_t)(2 * p->output_offset + 1) << rq[1]);
        v = fn_requant_doubled((int32_t)((uint32_t)acc << 1), rq[0], rq[1] + 1, addend);
    } else {
        v = fn_wrap_add(fn_mbqm(acc, rq[0], -rq[1] - 1), p->output_offset);
    }
    return (int8_t)fn_clamp32(v, p->act_min, p->act_max);
}

/* Both rows widened into one scratch of 2 x the row's, per group row 0's 2 words, then row 1's. */
static void fc_pairs_widen2(const int8_t *x0, const int8_t *x1, int32_t n, int16_t *xs)
{
    int32_t k = 0;
    for (; k + 4 <= n; k += 4, xs += 8) {
        const uint32_t v0 = fn_read_u32(x0 + k), v1 = fn_read_u32(x1 + k);
        fn_write_pair(xs, __sxtb16(v0));
        fn_write_pair(xs + 2, fn_sxtb16_ror8(v0));
        fn_write_pair(xs + 4, __sxtb16(v1));
        fn_write_pair(xs + 6, fn_sxtb16_ror8(v1));
    }
    if (k < n) {
        fc_pairs_widen(x0 + k, n - k, xs);
        fc_pairs_widen(x1 + k, n - k, xs + 4);
    }
}

typedef void (*fc_pairs_groups)(const int16_t *xs, const int8_t *w, int32_t *acc, int32_t groups);

/* A quad's (fc_pairs_quad, 16 lane bytes a group, 2 pairs) or a lone pair's (fc_pairs_one, 8, 1) sums over
 * every group, rows 2p+1 into high[] after each chunk: from the widened input xs, or (xs NULL) from the raw x
 * widened here FC_PAIRS_STACK_GROUPS groups at a time. Returns the lanes after the last group. */
#define FC_PAIRS_STACK_GROUPS 64
static const int8_t *fc_pairs_sum(fc_pairs_groups sum, int32_t lane_bytes, int32_t pairs, const int16_t *xs,
                                  const int8_t *x, int32_t groups, const int8_t *w, int32_t *acc, int32_t *high)
{
    int16_t buffer[4 * FC_PAIRS_STACK_GROUPS];
    const int32_t step = xs ? FC_PAIRS_CHUNK : FC_PAIRS_STACK_GROUPS;
    for (int32_t done = 0; done < groups; done += step) {
        const int32_t n = groups - done < step ? groups - done : step;
        if (!xs) {
            fc_pairs_widen(x + 4 * done, 4 * n, buffer);
        }
        sum(xs ? xs + 4 * done : buffer, w, acc, n);
        w += lane_bytes * n;
        for (int32_t i = 0; i < pairs; ++i) {
            high[i] += fc_pairs_take_high(&acc[2 * i], acc[2 * i + 1]);
        }
    }
    return w;
}

/* One batch row from quad `first` on (the quads before it done elsewhere): xs its widened input, or NULL
 * where fc_pairs_raw_input says the whole quads read the raw x. */
static void fc_pairs_row(const fn_fc_pairs_params *p, const int32_t *requant, int32_t groups, int32_t out_features,
                         const int8_t *packed, const int32_t *bias, int8_t *y, const int16_t *xs, const int8_t *x,
                         int32_t first)
{
    const int32_t pairs = (out_features + 1) >> 1;
    const int32_t rq_step = p->per_channel ? 2 : 0;
    const int8_t *w = packed + first * 16 * groups;
    int32_t o = 4 * first;
    const int32_t whole_quads = out_features >> 2;
    if (p->fast_requant && whole_quads > first) {
        fc_pairs_job job = {xs ? xs : (const int16_t *)(const void *)x, w, bias + o, requant + rq_step * o, y + o,
                            groups, whole_quads - first, 4 * rq_step, (uint8_t)p->act_min * 0x01010101u,
                            (uint8_t)p->act_max * 0x01010101u, 2 * p->output_offset + 1};
        if (xs) {
            fc_pairs_quads(&job);
        } else {
            fc_pairs_quads_raw(&job);
        }
        w = job.w;
        o = 4 * whole_quads;
    }
    for (int32_t q = o >> 2; q < pairs >> 1; ++q, o += 4) {
        int32_t acc[4] = {bias[o], bias[o], bias[o + 2], bias[o + 2]};
        int32_t high[2] = {bias[o + 1], o + 3 < out_features ? bias[o + 3] : 0};
        w = fc_pairs_sum(fc_pairs_quad, 16, 2, xs, x, groups, w, acc, high);
        const int32_t *rq = requant + rq_step * o;
        y[o] = fc_pairs_out(p, rq, acc[1]);
        y[o + 1] = fc_pairs_out(p, rq + rq_step, high[0]);
        y[o + 2] = fc_pairs_out(p, rq + 2 * rq_step, acc[3]);
        if (o + 3 < out_features) {
            y[o + 3] = fc_pairs_out(p, rq + 3 * rq_step, high[1]);
        }
    }
    if (pairs & 1) {
        int32_t acc[2] = {bias[o], bias[o]};
        int32_t high[1] = {o + 1 < out_features ? bias[o + 1] : 0};
        fc_pairs_sum(fc_pairs_one, 8, 1, xs, x, groups, w, acc, high);
        y[o] = fc_pairs_out(p, requant + rq_step * o, acc[1]);
        if (o + 1 < out_features) {
            y[o + 1] = fc_pairs_out(p, requant + rq_step * (o + 1), high[0]);
        }
    }
}

/* Every batch row: two at a time through fc_pairs_rows2 over the whole quads (each lane word loaded once
 * for both), the rest of those rows' outputs and a last odd row one row at a time; a lone row of few
 * quads reads its raw input (fc_pairs_raw_input). */
static void fc_pairs_dsp(const fn_fc_pairs_params *p, const int32_t *requant, int32_t batches, int32_t in_features,
                         const int8_t *input, int32_t out_features, const int8_t *packed, const int32_t *bias,
                         int8_t *output, int16_t *xs)
{
    const int32_t groups = (in_features + 3) >> 2;
    const int32_t whole_quads = out_features >> 2;
    if (fc_pairs_raw_input(batches, in_features, out_features)) {
        fc_pairs_row(p, requant, groups, out_features, packed, bias, output, 0, input, 0);
        return;
    }
    int32_t b = 0;
    if (p->fast_requant && whole_quads) {
        for (; b + 2 <= batches; b += 2) {
            const int8_t *x = input + b * in_features;
            int8_t *y = output + b * out_features;
            fc_pairs_widen2(x, x + in_features, in_features, xs);
            fc_pairs_job2 job = {xs, packed, bias, requant, y, groups, 2 * whole_quads, p->per_channel ? 8 : 0,
                                 (uint8_t)p->act_min * 0x01010101u, (uint8_t)p->act_max * 0x01010101u, out_features,
                                 2 * p->output_offset + 1};
            fc_pairs_rows2(&job);
            for (int32_t r = 0; r < 2 && (out_features & 3); ++r) {
                fc_pairs_widen(x + r * in_features, in_features, xs);
                fc_pairs_row(p, requant, groups, out_features, packed, bias, y + r * out_features, xs, 0, whole_quads);
            }
        }
    }
    for (; b < batches; ++b) {
        const int8_t *x = input + b * in_features;
        fc_pairs_widen(x, in_features, xs);
        fc_pairs_row(p, requant, groups, out_features, packed, bias, output + b * out_features, xs, x, 0);
    }
}
#endif

#endif /* FN_FULLY_CONNECTED_PAIRS_S8_DSP_H */
