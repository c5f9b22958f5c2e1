/* Depthwise conv with a one-dimensional filter (k x 1 or 1 x k: the H x 1 layers of 1-D audio CNNs, 1 x N
 * along rows) on Cortex-M4/M7 (DSP path), one head, any stride along the filter.
 *
 * Each line of input values under the filter (a column for k x 1, a row for 1 x k) of 4 adjacent channels is
 * copied into 4 line planes (the 4-channel transposing copy of the 3x3 path: one word load per input
 * element serves 4 channels), between the input zero point on both sides, filled once per call: a padded
 * tap then adds (zp + offset) * w = 0, TFLM's skipped tap, and no window needs a border check. Along a
 * plane the taps of a window are contiguous, so a word load holds 4 of them: SXTB16 gives (x0, x2) and
 * SXTB16 ROR 8 (x1, x3), two SMLAD with the weights packed as (w0, w2), (w1, w3) take 4 MACs; a last single
 * tap (k = 4 n + 1: 9, 5) is one LDRSB and SMLABB, 2 or 3 taps one more word with zero weights. The
 * weights are doubled and the input offset is in the bias (offset x sum of the weights), so the sum goes
 * straight into fn_requant_doubled, then SSAT; a narrower activation range is clamped over the whole output
 * at the end, 4 bytes at a time. Channels past the last 4 take one plane each.
 */
#include "depthwise_internal.h"
#include "depthwise_planes_dsp.h"

#if FN_USE_DSP
#define FN_DW_LINE_MAX_TAPS 32

int fn_dw_line_applies(const fn_dims *filter_dims)
{
    const int32_t k = fn_max32(filter_dims->h, filter_dims->w);
    return (filter_dims->h == 1) != (filter_dims->w == 1) && k >= 2 && k <= FN_DW_LINE_MAX_TAPS;
}

/* Bytes of one line plane: the input line, the pads (each below the filter: SAME pads at most k - 1,
 * explicit ones too), the words the last window reads past its taps, whole words. */
static int32_t line_plane_bytes(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    const int32_t k = fn_max32(filter_dims->h, filter_dims->w);
    const int32_t length = filter_dims->w == 1 ? in_dims->h : in_dims->w;
    return (length + 2 * k + 4 + 3) & ~3;
}

int32_t fn_dw_line_bytes(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    return (in_dims->c >= 4 ? 4 : 1) * line_plane_bytes(in_dims, filter_dims);
}

/* One channel's weights, doubled and packed for the word loads: (w[4g], w[4g+2]), (w[4g+1], w[4g+3]) per
 * group g of 4 taps (zeros past k), and its requantization. */
typedef struct {
    int32_t w[FN_DW_LINE_MAX_TAPS / 2];
    int32_t bias2, multiplier, exponent, addend;
} line_channel;

/* Two doubled taps as one word: (2 a, 2 b). */
static inline int32_t pack_doubled(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)(uint16_t)(2 * a) | (uint32_t)(2 * b) << 16);
}

static void prepare_channel(line_channel *d, const int8_t *w, int32_t k, int32_t step, int32_t oc,
                            const int32_t *bias, const fn_channel_quant *q, const fn_conv_params *p)
{
    int32_t sum = 0, g = 0;
    for (; 4 * g + 4 <= k; ++g, w += 4 * step) {
        const int32_t a = w[0], b = w[step], c = w[2 * step], e = w[3 * step];
        sum += a + b + c + e;
        d->w[2 * g] = pack_doubled(a, c);
        d->w[2 * g + 1] = pack_doubled(b, e);
    }
    const int32_t left = k - 4 * g; /* 0..3 taps in a last, zero-padded group */
    if (left > 0) {
        const int32_t a = w[0], b = left > 1 ? w[step] : 0, c = left > 2 ? w[2 * step] : 0;
        sum += a + b + c;
        d->w[2 * g] = pack_doubled(a, c);
        d->w[2 * g + 1] = pack_doubled(b, 0);
    }
    d->bias2 = 2 * ((bias ? bias[oc] : 0) + p->input_offset * sum);
    d->multiplier = q->multiplier[oc];
    d->exponent = -q->shift[oc];
    d->addend = fn_requant_addend(d->exponent, p->output_offset);
}

/* What the line kernels read, by offset. */
typedef struct {
    const int8_t *x; /* the first window */
    int8_t *out;
    int32_t count, stride, step; /* outputs (>= 1), bytes between windows and between outputs */
    const line_channel *d;
} line_args;
FN_ASM_OFFSET(line_channel, bias2, 64);
FN_ASM_OFFSET(line_channel, multiplier, 68);
FN_ASM_OFFSET(line_channel, exponent, 72);
FN_ASM_OFFSET(line_channel, addend, 76);
FN_ASM_OFFSET(line_args, d, 20);

/* 4 taps from r0 + OFFSET against the packed weights WEVEN, WODD (r12, lr scratch, r3 the sum). */
#define FN_LINE_WORD(OFFSET, WEVEN, WODD)        \
    "ldr r12, [r0, #" OFFSET "]\n\t"             \
    "sxtb16 lr, r12\n\t"                         \
    "sxtb16 r12, r12, ror #8\n\t"                \
    "smlad r3, lr, " WEVEN ", r3\n\t"            \
    "smlad r3, r12, " WODD ", r3\n\t"
/* The single tap at r0 + OFFSET, its weight in the low half of W. */
#define FN_LINE_TAP(OFFSET, W)                   \
    "ldrsb r12, [r0, #" OFFSET "]\n\t"           \
    "smlabb r3, r12, " W ", r3\n\t"

/* One channel's outputs along its plane for filters of up to 2 words of taps and a single tap: the
 * weights (r4-r8) and requantization (r9 multiplier, r10 addend, r11 exponent) stay in registers; per
 * output the bias seeds r3, WINDOW sums the taps, SMMLAR + sign + ASR + SSAT requantize (as the conv's
 * FN_REQUANT1), STRB, the output step. k = 9: 23 instructions per output, k = 5: 18.
 * Stack: #0 stride, #4 bias2, #8 step. */
#define FN_LINE_KERNEL(WINDOW)                                                     \
    "push {r4-r11, lr}\n\t"                                                      \
    "ldm r0, {r0, r1, r2, r3, r12, lr}\n\t" /* x, out, count, stride, step, d */ \
    "ldr r4, [lr, #64]\n\t"                                                      \
    "push {r3, r4, r12}\n\t"                                                     \
    "ldr r9, [lr, #68]\n\t"                                                      \
    "ldr r11, [lr, #72]\n\t"                                                     \
    "ldr r10, [lr, #76]\n\t"                                                     \
    "ldm lr, {r4-r8}\n\t"                                                        \
    "1:\n\t"                                                                     \
    "ldr r3, [sp, #4]\n\t"                                                       \
    WINDOW                                                                       \
    "ldr r12, [sp]\n\t"                                                          \
    "add r0, r0, r12\n\t"                                                        \
    "smmlar r12, r3, r9, r10\n\t"                                                \
    "add r3, r12, r3, asr #31\n\t"                                               \
    "asr r3, r3, r11\n\t"                                                        \
    "ssat r3, #8, r3\n\t"                                                        \
    "ldr r12, [sp, #8]\n\t"                                                      \
    "strb r3, [r1]\n\t"                                                          \
    "add r1, r1, r12\n\t"                                                        \
    "subs r2, r2, #1\n\t"                                                        \
    "bne 1b\n\t"                                                                 \
    "add sp, sp, #12\n\t"                                                        \
    "pop {r4-r11, pc}\n\t"

typedef void (*line_kernel)(const line_args *a);

/* k = 2..4 (one word), 5 (a word and a tap), 6..8 (two words), 9 (two words and a tap). */
__attribute__((naked)) static void line_w1(FN_IN_ASM const line_args *a)
{
    __asm__ volatile(FN_LINE_KERNEL(FN_LINE_WORD("0", "r4", "r5")));
}
__attribute__((naked)) static void line_w1_tap(FN_IN_ASM const line_args *a)
{
    __asm__ volatile(FN_LINE_KERNEL(FN_LINE_WORD("0", "r4", "r5") FN_LINE_TAP("4", "r6")));
}
__attribute__((naked)) static void line_w2(FN_IN_ASM const line_args *a)
{
    __asm__ volatile(FN_LINE_KERNEL(FN_LINE_WORD("0", "r4", "r5") FN_LINE_WORD("4", "r6", "r7")));
}
__attribute__((naked)) static void line_w2_tap(FN_IN_ASM const line_args *a)
{
    __asm__ volatile(FN_LINE_KERNEL(FN_LINE_WORD("0", "r4", "r5") FN_LINE_WORD("4", "r6", "r7") FN_LINE_TAP("8", "r8")));
}

/* Longer filters (10..32 taps) in C: whole words, then the zero-padded last one. */
static void line_any(const line_args *a, int32_t words)
{
    const line_channel *d = a->d;
    const int8_t *x = a->x;
    int8_t *out = a->out;
    for (int32_t i = 0; i < a->count; ++i, x += a->stride, out += a->step) {
        int32_t acc = d->bias2;
        for (int32_t g = 0; g < words; ++g) {
            const uint32_t v = fn_read_u32(x + 4 * g);
            acc = __smlad(__sxtb16((int32_t)v), d->w[2 * g], acc);
            acc = __smlad(fn_sxtb16_ror8(v), d->w[2 * g + 1], acc);
        }
        *out = (int8_t)__ssat(fn_requant_doubled(acc, d->multiplier, d->exponent, d->addend), 8);
    }
}

static void channel_line(const line_args *a, int32_t k)
{
    static const line_kernel kernels[10] = {0, 0, line_w1, line_w1, line_w1, line_w1_tap,
                                            line_w2, line_w2, line_w2, line_w2_tap};
    if (k < 10) {
        kernels[k](a);
    } else {
        line_any(a, (k + 3) >> 2);
    }
}

void fn_dw_line_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                       const fn_dims *filter_dims, const int8_t *filter, const int32_t *bias, const fn_dims *out,
                       int8_t *output, int32_t pad_h, int32_t pad_w, int8_t *plane)
{
    const int along_h = filter_dims->w == 1;
    const int32_t channels = in->c, k = along_h ? filter_dims->h : filter_dims->w;
    /* Along the filter: length, element stride, output count, stride, leading pad; across it: the lines. */
    const int32_t length = along_h ? in->h : in->w, element = along_h ? in->w * channels : channels;
    const int32_t out_len = along_h ? out->h : out->w, stride = along_h ? p->stride_h : p->stride_w;
    const int32_t pad = along_h ? pad_h : pad_w, out_step = along_h ? out->w * channels : channels;
    const int32_t lines = along_h ? out->w : out->h, line_stride = along_h ? p->stride_w : p->stride_h;
    const int32_t line_in = along_h ? channels : in->w * channels, line_out = along_h ? channels : out->w * channels;
    const int32_t plane_bytes = line_plane_bytes(in, filter_dims);
    fn_dw_fill_zero_point(plane, fn_dw_line_bytes(in, filter_dims), fn_lanes(-p->input_offset));
    line_channel d[4];
    for (int32_t c0 = 0; c0 < channels;) {
        const int32_t count = channels - c0 >= 4 ? 4 : 1;
        for (int32_t i = 0; i < count; ++i) {
            prepare_channel(&d[i], filter + c0 + i, k, channels, c0 + i, bias, q, p);
        }
        for (int32_t b = 0; b < out->n; ++b) {
            const int8_t *image = input + b * in->h * in->w * channels + c0;
            int8_t *out_image = output + b * out->h * out->w * channels + c0;
            for (int32_t l = 0; l < lines; ++l) {
                const int8_t *src = image + l * line_stride * line_in;
                if (count == 4) {
                    copy_4channel_rows_any(plane + pad, plane_bytes, plane_bytes, src, length, element, 1);
                } else {
                    copy_channel_row(plane + pad, src, length, element);
                }
                for (int32_t i = 0; i < count; ++i) {
                    const line_args a = {plane + i * plane_bytes, out_image + l * line_out + i, out_len, stride,
                                         out_step, &d[i]};
                    channel_line(&a, k);
                }
            }
        }
        c0 += count;
    }
    if (p->act_min > FN_INT8_MIN || p->act_max < FN_INT8_MAX) {
        fn_clamp_bytes(output, fn_dims_count(out), p->act_min, p->act_max);
    }
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dw_line_portable_build_has_no_dsp_path;
#endif
