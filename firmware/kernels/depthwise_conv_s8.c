/* DEPTHWISE_CONV_2D int8 with channel multiplier (TFLM reference_integer_ops::DepthwiseConvPerChannel). */
#include "fn_internal.h"

/* The taps of one output pixel that fall inside the input, and how to step through them. */
typedef struct {
    const int8_t *x;     /* input at the first valid tap, channel 0 */
    const int8_t *w;     /* filter at the first valid tap, output channel 0 */
    int32_t rows, cols;  /* valid taps */
    int32_t x_row, w_row, x_col, w_col;
    int32_t input_offset;
} tap_window;

/* Requantization parameters as locals, so int8 stores cannot force reloads (char aliasing). */
typedef struct {
    const int32_t *bias, *multiplier, *shift;
    int32_t output_offset, act_min, act_max;
    int maxout;
} dw_output;

static inline int8_t dw_requant(const dw_output *o, int32_t acc, int32_t oc)
{
    return fn_requant_s8(acc + (o->bias ? o->bias[oc] : 0), o->multiplier[oc], o->shift[oc], o->output_offset,
                         o->act_min, o->act_max);
}

/* Heads 1..5 use scalar accumulators a0..a4 (H is a constant: unused ones fold away), so they
 * stay in registers; the generic loop over a[m] would keep them in memory. */
#define FN_DW_ACC(H, m, stmt) \
    if ((H) > (m)) {          \
        stmt;                 \
    }

static inline void dw_emit(const dw_output *o, int32_t acc, int32_t oc, int8_t *best, int8_t **out)
{
    const int8_t v = dw_requant(o, acc, oc);
    if (o->maxout) {
        *best = v > *best ? v : *best;
    } else {
        *(*out)++ = v;
    }
}

#define FN_DEFINE_DW_PIXEL(H)                                                                               \
    static int8_t *dw_pixel_h##H(const tap_window *t, int32_t c, int32_t channels, const dw_output *o,   \
                                 int8_t *out)                                                             \
    {                                                                                                     \
        const int32_t rows = t->rows, cols = t->cols, x_row = t->x_row, w_row = t->w_row;                 \
        const int32_t x_col = t->x_col, w_col = t->w_col, input_offset = t->input_offset;                 \
        for (; c < channels; ++c) {                                                                       \
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0;                                               \
            const int8_t *xr = t->x + c, *wr = t->w + c * (H);                                            \
            for (int32_t r = 0; r < rows; ++r, xr += x_row, wr += w_row) {                                \
                const int8_t *xp = xr, *wp = wr;                                                          \
                for (int32_t k = 0; k < cols; ++k, xp += x_col, wp += w_col) {                            \
                    const int32_t xv = (int32_t)*xp + input_offset;                                       \
                    a0 += (int32_t)wp[0] * xv;                                                            \
                    FN_DW_ACC(H, 1, a1 += (int32_t)wp[1] * xv)                                            \
                    FN_DW_ACC(H, 2, a2 += (int32_t)wp[2] * xv)                                            \
                    FN_DW_ACC(H, 3, a3 += (int32_t)wp[3] * xv)                                            \
                    FN_DW_ACC(H, 4, a4 += (int32_t)wp[4] * xv)                                            \
                }                                                                                         \
            }                                                                                             \
            int8_t best = FN_INT8_MIN;                                                                    \
            const int32_t oc = c * (H);                                                                   \
            dw_emit(o, a0, oc, &best, &out);                                                              \
            FN_DW_ACC(H, 1, dw_emit(o, a1, oc + 1, &best, &out))                                          \
            FN_DW_ACC(H, 2, dw_emit(o, a2, oc + 2, &best, &out))                                          \
            FN_DW_ACC(H, 3, dw_emit(o, a3, oc + 3, &best, &out))                                          \
            FN_DW_ACC(H, 4, dw_emit(o, a4, oc + 4, &best, &out))                                          \
            if (o->maxout) {                                                                              \
                *out++ = best;                                                                            \
            }                                                                                             \
        }                                                                                                 \
        return out;                                                                                       \
    }

FN_DEFINE_DW_PIXEL(1)
FN_DEFINE_DW_PIXEL(2)
FN_DEFINE_DW_PIXEL(3)
FN_DEFINE_DW_PIXEL(4)
FN_DEFINE_DW_PIXEL(5)

/* Any other number of heads: one channel's heads at a time, accumulators on the stack. */
static int8_t *dw_pixel_any(const tap_window *t, int32_t channels, int32_t heads, const dw_output *o, int8_t *out)
{
    int32_t a[FN_MAX_HEADS];
    for (int32_t c = 0; c < channels; ++c) {
        for (int32_t m = 0; m < heads; ++m) {
            a[m] = 0;
        }
        const int8_t *xr = t->x + c, *wr = t->w + c * heads;
        for (int32_t r = 0; r < t->rows; ++r, xr += t->x_row, wr += t->w_row) {
            for (int32_t k = 0; k < t->cols; ++k) {
                const int32_t xv = (int32_t)xr[k * t->x_col] + t->input_offset;
                for (int32_t m = 0; m < heads; ++m) {
                    a[m] += (int32_t)wr[k * t->w_col + m] * xv;
                }
            }
        }
        int8_t best = FN_INT8_MIN;
        for (int32_t m = 0; m < heads; ++m) {
            const int8_t v = dw_requant(o, a[m], c * heads + m);
            best = v > best ? v : best;
            if (!o->maxout) {
                *out++ = v;
            }
        }
        if (o->maxout) {
            *out++ = best;
        }
    }
    return out;
}

#if FN_USE_DSP
/* heads == 1, four channels per step: __sxtb16 unpacks 4 inputs and 4 weights, SMLABB / SMLATT
 * accumulate each channel in its own register; the channel tail goes through dw_pixel_h1. */
static int8_t *dw_pixel_simd(const tap_window *t, int32_t channels, const dw_output *o, int8_t *out)
{
    const int32_t offset2 = (int32_t)(((uint32_t)(uint16_t)t->input_offset << 16) | (uint16_t)t->input_offset);
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *xr = t->x + c, *wr = t->w + c;
        for (int32_t r = 0; r < t->rows; ++r, xr += t->x_row, wr += t->w_row) {
            const int8_t *xp = xr, *wp = wr;
            for (int32_t k = 0; k < t->cols; ++k, xp += t->x_col, wp += t->w_col) {
                const uint32_t xv = fn_read_u32(xp), wv = fn_read_u32(wp);
                const int32_t x_even = __sadd16(__sxtb16((int32_t)xv), offset2);
                const int32_t x_odd = __sadd16(fn_sxtb16_ror8(xv), offset2);
                const int32_t w_even = __sxtb16((int32_t)wv), w_odd = fn_sxtb16_ror8(wv);
                a0 = __smlabb(w_even, x_even, a0);
                a1 = __smlabb(w_odd, x_odd, a1);
                a2 = __smlatt(w_even, x_even, a2);
                a3 = __smlatt(w_odd, x_odd, a3);
            }
        }
        out[0] = dw_requant(o, a0, c);
        out[1] = dw_requant(o, a1, c + 1);
        out[2] = dw_requant(o, a2, c + 2);
        out[3] = dw_requant(o, a3, c + 3);
        out += 4;
    }
    return dw_pixel_h1(t, c, channels, o, out);
}
#endif

#if FN_USE_DSP
/* 3x3 filters, any heads, stride 1 or 2: channel by channel over bands of output rows. The band's
 * input rows of one channel are copied into a plane (int8, one row after another, the padding
 * filled with the input zero point, so a padded tap adds (zp + offset) * w = 0 like TFLM's skipped
 * tap, and no window needs a border check). One 32-bit load of a plane row then holds x0..x3 of a
 * window: __sxtb16 gives (x0, x2) and __sxtb16(ror 8) gives (x1, x3), so SMLAD multiplies taps 0
 * and 2 of a row with its weights packed as (w0, w2), and SMLABB / SMLATB adds tap 1; the same
 * load serves the next output pixel ((x1, x3) and x2) at stride 1. The input offset goes into the
 * bias (offset * sum of the channel's 9 weights), the weights are doubled so the accumulator is
 * 2 * acc, as fn_requant_doubled wants. */
#define FN_DW_BAND 8 /* output rows per band */

static int dw_planar_applies(const fn_dims *f) { return f->h == 3 && f->w == 3; }
/* Row length: the input, pads of up to filter - 1 on both sides, 3 bytes a window's last load reads past. */
static int32_t plane_width(const fn_dims *in, const fn_dims *f) { return in->w + 2 * (f->w - 1) + 4; }
static int32_t plane_rows(const fn_dims *f) { return (FN_DW_BAND - 1) * 2 + f->h; }
#endif

int32_t fn_depthwise_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
#if FN_USE_DSP
    if (in_dims && filter_dims && dw_planar_applies(filter_dims)) {
        return (plane_width(in_dims, filter_dims) * plane_rows(filter_dims) + 3) & ~3;
    }
#endif
    (void)in_dims;
    (void)filter_dims;
    return 0; /* accumulators live in registers */
}

#if FN_USE_DSP
/* One output channel's 3x3 weights, doubled, packed for the plane loads (see above), and its
 * requantization. */
typedef struct {
    int32_t w02[3];  /* (2 w[r][0], 2 w[r][2]) per row r */
    int32_t w1_01;   /* (2 w[0][1], 2 w[1][1]) */
    int32_t w1_2;    /* 2 w[2][1] in the bottom half */
    int32_t bias2;   /* 2 * (bias + input_offset * sum of w) */
    int32_t multiplier, exponent, addend;
} dw_channel;

static inline int32_t pack16(int32_t lo, int32_t hi) { return (int32_t)(((uint32_t)hi << 16) | (uint16_t)lo); }

static dw_channel prepare_dw_channel(const int8_t *w, int32_t tap_stride, const int32_t *bias, const fn_channel_quant *q,
                                     int32_t oc, int32_t input_offset, int32_t output_offset)
{
    dw_channel d;
    int32_t t[9], sum = 0;
    for (int32_t i = 0; i < 9; ++i) {
        t[i] = w[i * tap_stride];
        sum += t[i];
    }
    for (int32_t r = 0; r < 3; ++r) {
        d.w02[r] = pack16(2 * t[3 * r], 2 * t[3 * r + 2]);
    }
    d.w1_01 = pack16(2 * t[1], 2 * t[4]);
    d.w1_2 = pack16(2 * t[7], 0);
    d.bias2 = 2 * ((bias ? bias[oc] : 0) + input_offset * sum);
    d.multiplier = q->multiplier[oc];
    d.exponent = -q->shift[oc];
    d.addend = fn_requant_addend(d.exponent, output_offset);
    return d;
}

/* Store the requantized value, or (MDW heads after the first) keep the larger. */
static inline __attribute__((always_inline)) void dw_put(int8_t *dst, int32_t acc2, const dw_channel *d,
                                                         int32_t act_min, int32_t act_max, int full_range,
                                                         int keep_max)
{
    const int32_t y = fn_requant_doubled(acc2, d->multiplier, d->exponent, d->addend);
    const int8_t v = (int8_t)(full_range ? __ssat(y, 8) : fn_clamp32(y, act_min, act_max));
    if (keep_max) {
        *dst = v > *dst ? v : *dst;
    } else {
        *dst = v;
    }
}

/* Arguments of the assembly row kernels (offsets used in the assembly: keep the order). */
typedef struct {
    int32_t w02[3], w1_01, w1_2;                /* #0..#16 */
    int32_t bias2, multiplier, addend, exponent; /* #20..#32 */
    int32_t out_stride, pairs;                   /* #36, #40 */
} dw_row_args;

/* Stride 1, full int8 output range, 2 output pixels per iteration, everything in registers
 * (the compiler spills this loop): r0 window start in plane row 0, r1 plane row length, r2 output,
 * r3 output stride, r4 end of the windows, r5-r9 packed weights, r10-r12 / lr working registers;
 * bias and requantization on the stack. Per pair: 3 loads, 6 SXTB16, 12 multiply-accumulates,
 * and fn_requant_doubled twice. STORE_A / STORE_B put the int8 results (r12, lr) to [r2], [r2, r3]. */
#define FN_DW_ROW_ASM(STORE_A, STORE_B)                                                                    \
    "push {r4-r11, lr}\n\t"                                                                                \
    "add r10, r3, #20\n\t"                                                                                 \
    "ldm r10, {r10, r11, r12, lr}\n\t"                                                                     \
    "push {r10, r11, r12, lr}\n\t" /* [sp] bias2, multiplier, addend, exponent */                         \
    "ldm r3, {r5-r9}\n\t"                                                                                  \
    "ldr r4, [r3, #40]\n\t"                                                                                \
    "add r4, r0, r4, lsl #1\n\t"                                                                           \
    "ldr r3, [r3, #36]\n\t"                                                                                \
    "1:\n\t"                                                                                               \
    "ldr r11, [r0]\n\t"                                                                                    \
    "ldr r12, [sp]\n\t"                                                                                    \
    "sxtb16 r10, r11\n\t"                                                                                  \
    "sxtb16 r11, r11, ror #8\n\t"                                                                          \
    "smlad lr, r11, r5, r12\n\t"                                                                           \
    "smlad r12, r10, r5, r12\n\t"                                                                          \
    "smlabb r12, r11, r8, r12\n\t"                                                                         \
    "smlatb lr, r10, r8, lr\n\t"                                                                           \
    "ldr r11, [r0, r1]\n\t"                                                                                \
    "sxtb16 r10, r11\n\t"                                                                                  \
    "sxtb16 r11, r11, ror #8\n\t"                                                                          \
    "smlad r12, r10, r6, r12\n\t"                                                                          \
    "smlad lr, r11, r6, lr\n\t"                                                                            \
    "smlabt r12, r11, r8, r12\n\t"                                                                         \
    "smlatt lr, r10, r8, lr\n\t"                                                                           \
    "ldr r11, [r0, r1, lsl #1]\n\t"                                                                        \
    "sxtb16 r10, r11\n\t"                                                                                  \
    "sxtb16 r11, r11, ror #8\n\t"                                                                          \
    "smlad r12, r10, r7, r12\n\t"                                                                          \
    "smlad lr, r11, r7, lr\n\t"                                                                            \
    "smlabb r12, r11, r9, r12\n\t"                                                                         \
    "smlatb lr, r10, r9, lr\n\t"                                                                           \
    "ldr r10, [sp, #4]\n\t"                                                                                \
    "smmulr r12, r12, r10\n\t"                                                                             \
    "smmulr lr, lr, r10\n\t"                                                                               \
    "ldr r10, [sp, #8]\n\t"                                                                                \
    "add r11, r12, r10\n\t"                                                                                \
    "add r12, r11, r12, asr #31\n\t"                                                                       \
    "add r11, lr, r10\n\t"                                                                                 \
    "add lr, r11, lr, asr #31\n\t"                                                                         \
    "ldr r10, [sp, #12]\n\t"                                                                               \
    "asr r12, r12, r10\n\t"                                                                                \
    "asr lr, lr, r10\n\t"                                                                                  \
    "ssat r12, #8, r12\n\t"                                                                                \
    "ssat lr, #8, lr\n\t"                                                                                  \
    STORE_A STORE_B                                                                                        \
    "add r2, r2, r3, lsl #1\n\t"                                                                           \
    "adds r0, r0, #2\n\t"                                                                                  \
    "cmp r0, r4\n\t"                                                                                       \
    "bne 1b\n\t"                                                                                           \
    "add sp, sp, #16\n\t"                                                                                  \
    "pop {r4-r11, pc}\n\t"

#define FN_IN_ASM __attribute__((unused))
/* Plain depthwise: store. */
__attribute__((naked)) static void dw_row_s1_store(FN_IN_ASM const int8_t *src, FN_IN_ASM int32_t pw,
                                                   FN_IN_ASM int8_t *dst, FN_IN_ASM const dw_row_args *args)
{
    __asm__ volatile(FN_DW_ROW_ASM("strb r12, [r2]\n\t", "strb lr, [r2, r3]\n\t"));
}
/* MDW heads after the first: keep the larger of the stored and the new value. */
__attribute__((naked)) static void dw_row_s1_max(FN_IN_ASM const int8_t *src, FN_IN_ASM int32_t pw,
                                                 FN_IN_ASM int8_t *dst, FN_IN_ASM const dw_row_args *args)
{
    __asm__ volatile(FN_DW_ROW_ASM("ldrsb r10, [r2]\n\t"
                                   "cmp r12, r10\n\t"
                                   "it lt\n\t"
                                   "movlt r12, r10\n\t"
                                   "strb r12, [r2]\n\t",
                                   "ldrsb r10, [r2, r3]\n\t"
                                   "cmp lr, r10\n\t"
                                   "it lt\n\t"
                                   "movlt lr, r10\n\t"
                                   "strb lr, [r2, r3]\n\t"));
}

/* One output row from plane rows src, src + pw, src + 2 pw (the window of output x starts at
 * src + stride * x). Stride, clamp and max are constants at each call (always inlined). */
static inline __attribute__((always_inline)) void dw_plane_row(const int8_t *src, int32_t pw, const dw_channel *d,
                                                              int8_t *dst, int32_t out_stride, int32_t out_w,
                                                              int32_t act_min, int32_t act_max, int stride,
                                                              int full_range, int keep_max)
{
    const int32_t w02_0 = d->w02[0], w02_1 = d->w02[1], w02_2 = d->w02[2], w1_01 = d->w1_01, w1_2 = d->w1_2;
    int32_t x = 0;
    if (stride == 1 && full_range && out_w >= 2) {
        const dw_row_args args = {{w02_0, w02_1, w02_2}, w1_01, w1_2, d->bias2, d->multiplier, d->addend,
                                  d->exponent, out_stride, out_w >> 1};
        if (keep_max) {
            dw_row_s1_max(src, pw, dst, &args);
        } else {
            dw_row_s1_store(src, pw, dst, &args);
        }
        x = out_w & ~1;
        src += x;
        dst += x * out_stride;
    } else if (stride == 1) {
        for (; x + 2 <= out_w; x += 2, src += 2, dst += 2 * out_stride) {
            const uint32_t v0 = fn_read_u32(src), v1 = fn_read_u32(src + pw), v2 = fn_read_u32(src + 2 * pw);
            const int32_t e0 = __sxtb16((int32_t)v0), o0 = fn_sxtb16_ror8(v0);
            const int32_t e1 = __sxtb16((int32_t)v1), o1 = fn_sxtb16_ror8(v1);
            const int32_t e2 = __sxtb16((int32_t)v2), o2 = fn_sxtb16_ror8(v2);
            int32_t a = __smlad(e0, w02_0, d->bias2), b = __smlad(o0, w02_0, d->bias2);
            a = __smlabb(o0, w1_01, a);
            b = __smlatb(e0, w1_01, b);
            a = __smlad(e1, w02_1, a);
            b = __smlad(o1, w02_1, b);
            a = __smlabt(o1, w1_01, a);
            b = __smlatt(e1, w1_01, b);
            a = __smlad(e2, w02_2, a);
            b = __smlad(o2, w02_2, b);
            a = __smlabb(o2, w1_2, a);
            b = __smlatb(e2, w1_2, b);
            dw_put(dst, a, d, act_min, act_max, full_range, keep_max);
            dw_put(dst + out_stride, b, d, act_min, act_max, full_range, keep_max);
        }
    }
    for (; x < out_w; ++x, src += stride, dst += out_stride) {
        const uint32_t v0 = fn_read_u32(src), v1 = fn_read_u32(src + pw), v2 = fn_read_u32(src + 2 * pw);
        int32_t a = __smlad(__sxtb16((int32_t)v0), w02_0, d->bias2);
        a = __smlabb(fn_sxtb16_ror8(v0), w1_01, a);
        a = __smlad(__sxtb16((int32_t)v1), w02_1, a);
        a = __smlabt(fn_sxtb16_ror8(v1), w1_01, a);
        a = __smlad(__sxtb16((int32_t)v2), w02_2, a);
        a = __smlabb(fn_sxtb16_ror8(v2), w1_2, a);
        dw_put(dst, a, d, act_min, act_max, full_range, keep_max);
    }
}

/* Copy `rows` input rows of one channel, from row iy0 on, into the plane; zero point around them. */
static void fill_plane(int8_t *plane, int32_t pw, const int8_t *x, int32_t channels, const fn_dims *in, int32_t iy0,
                       int32_t rows, int32_t pad_w, int8_t zp)
{
    for (int32_t r = 0; r < rows; ++r, plane += pw) {
        const int32_t iy = iy0 + r;
        int32_t u = 0;
        if (iy >= 0 && iy < in->h) {
            for (; u < pad_w; ++u) {
                plane[u] = zp;
            }
            const int8_t *src = x + iy * in->w * channels;
            int8_t *dst = plane + pad_w;
            const int32_t w = in->w;
            int32_t i = 0;
            for (; i + 4 <= w; i += 4, src += 4 * channels) {
                dst[i] = src[0];
                dst[i + 1] = src[channels];
                dst[i + 2] = src[2 * channels];
                dst[i + 3] = src[3 * channels];
            }
            for (; i < w; ++i, src += channels) {
                dst[i] = *src;
            }
            u = pad_w + w;
        }
        for (; u < pw; ++u) {
            plane[u] = zp;
        }
    }
}

static void dw_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                      const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                      int32_t pad_w, int maxout, const fn_dims *f, int8_t *plane)
{
    const int32_t channels = in->c, heads = p->depth_multiplier, total = channels * heads;
    const int32_t pw = plane_width(in, f), stride = p->stride_h;
    const int stride2 = p->stride_w == 2;
    const int32_t out_stride = maxout ? channels : total;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int full_range = act_min <= FN_INT8_MIN && act_max >= FN_INT8_MAX;
    const int8_t zp = (int8_t)(-p->input_offset);
    for (int32_t b = 0; b < out->n; ++b) {
        const int8_t *x = input + b * in->h * in->w * channels;
        for (int32_t oy0 = 0; oy0 < out->h; oy0 += FN_DW_BAND) {
            const int32_t band = fn_min32(FN_DW_BAND, out->h - oy0);
            const int32_t rows = (band - 1) * stride + 3;
            for (int32_t c = 0; c < channels; ++c) {
                fill_plane(plane, pw, x + c, channels, in, oy0 * stride - pad_h, rows, pad_w, zp);
                for (int32_t m = 0; m < heads; ++m) {
                    const int32_t oc = c * heads + m;
                    const dw_channel d = prepare_dw_channel(filter + oc, total, bias, q, oc, p->input_offset,
                                                            p->output_offset);
                    const int keep_max = maxout && m > 0;
                    int8_t *dst = output + (b * out->h + oy0) * out->w * out_stride + (maxout ? c : oc);
                    for (int32_t r = 0; r < band; ++r, dst += out->w * out_stride) {
                        const int8_t *src = plane + r * stride * pw;
                        /* Each combination its own loop, without per-pixel branches. */
                        const int variant = stride2 * 4 + full_range * 2 + keep_max;
                        switch (variant) {
                        case 0: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 1, 0, 0); break;
                        case 1: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 1, 0, 1); break;
                        case 2: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 1, 1, 0); break;
                        case 3: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 1, 1, 1); break;
                        case 4: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 2, 0, 0); break;
                        case 5: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 2, 0, 1); break;
                        case 6: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 2, 1, 0); break;
                        default: dw_plane_row(src, pw, &d, dst, out_stride, out->w, act_min, act_max, 2, 1, 1); break;
                        }
                    }
                }
            }
        }
    }
}
#endif

/* Checks shared by depthwise and MDW; `out_c` is the expected output channel count. */
fn_status fn_check_depthwise(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                             const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                             const fn_dims *out_dims, int32_t out_c, const int8_t *output, int32_t *pad_h,
                             int32_t *pad_w)
{
    if (!p || !q || !input || !filter || !output || !filter_dims || !q->multiplier || !q->shift) {
        return FN_ERR_ARGUMENT;
    }
    if (p->depth_multiplier < 1 || p->depth_multiplier > FN_MAX_HEADS) {
        return FN_ERR_UNSUPPORTED;
    }
    const fn_status status = fn_check_conv_geometry(p, in_dims, filter_dims->h, filter_dims->w, out_dims,
                                                    pad_h, pad_w);
    if (status != FN_OK) {
        return status;
    }
    if (filter_dims->n != 1 || filter_dims->c != in_dims->c * p->depth_multiplier || out_dims->c != out_c) {
        return FN_ERR_SHAPE;
    }
    return FN_OK;
}

fn_status fn_depthwise_run(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                           const int8_t *input, const fn_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                           const fn_dims *out_dims, int8_t *output, int maxout, void *scratch)
{
    int32_t pad_h, pad_w;
    const int32_t heads = p ? p->depth_multiplier : 0;
    const int32_t out_c = in_dims ? (maxout ? in_dims->c : in_dims->c * heads) : 0;
    const fn_status status = fn_check_depthwise(p, q, in_dims, input, filter_dims, filter, out_dims, out_c, output,
                                                &pad_h, &pad_w);
    if (status != FN_OK) {
        return status;
    }
#if FN_USE_DSP
    if (dw_planar_applies(filter_dims)) {
        if (!scratch) {
            return FN_ERR_ARGUMENT;
        }
        if (fn_fast_requant_applies(bias, q->shift, in_dims->c * heads, 9)) {
            dw_planar(p, q, in_dims, input, filter, bias, out_dims, output, pad_h, pad_w, maxout, filter_dims,
                      (int8_t *)scratch);
            return FN_OK;
        }
    }
#else
    (void)scratch;
#endif
    const int32_t channels = in_dims->c;
    const int32_t total = channels * heads;
    const dw_output o = {bias, q->multiplier, q->shift, p->output_offset, p->act_min, p->act_max, maxout};
    tap_window t;
    t.x_row = in_dims->w * channels;
    t.w_row = filter_dims->w * total;
    t.x_col = channels;
    t.w_col = total;
    t.input_offset = p->input_offset;
    for (int32_t b = 0; b < out_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_dims->h; ++oy) {
            const int32_t y0 = oy * p->stride_h - pad_h;
            const int32_t ky0 = fn_max32(0, -y0), ky1 = fn_min32(filter_dims->h, in_dims->h - y0);
            for (int32_t ox = 0; ox < out_dims->w; ++ox) {
                const int32_t x0 = ox * p->stride_w - pad_w;
                const int32_t kx0 = fn_max32(0, -x0), kx1 = fn_min32(filter_dims->w, in_dims->w - x0);
                t.rows = ky1 - ky0;
                t.cols = kx1 - kx0;
                t.x = input + ((b * in_dims->h + y0 + ky0) * in_dims->w + x0 + kx0) * channels;
                t.w = filter + (ky0 * filter_dims->w + kx0) * total;
                switch (heads) {
#if FN_USE_DSP
                case 1: output = dw_pixel_simd(&t, channels, &o, output); break;
#else
                case 1: output = dw_pixel_h1(&t, 0, channels, &o, output); break;
#endif
                case 2: output = dw_pixel_h2(&t, 0, channels, &o, output); break;
                case 3: output = dw_pixel_h3(&t, 0, channels, &o, output); break;
                case 4: output = dw_pixel_h4(&t, 0, channels, &o, output); break;
                case 5: output = dw_pixel_h5(&t, 0, channels, &o, output); break;
                default: output = dw_pixel_any(&t, channels, heads, &o, output); break;
                }
            }
        }
    }
    return FN_OK;
}

fn_status fn_depthwise_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                                 const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const fn_dims *out_dims, int8_t *output, void *scratch)
{
    return fn_depthwise_run(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, 0, scratch);
}
