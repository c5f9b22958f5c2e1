/* 5x5 depthwise conv and fused MDW + Max-out on Cortex-M4/M7 (DSP path), any heads, stride 1 or 2:
 * the 3x3 path's planes, copies and bands (depthwise_planes_dsp.c), C with ACLE intrinsics over them. Two word
 * loads of a plane row hold x0..x7: __sxtb16 gives E = (x0, x2) and U = (x4, x6), __sxtb16(ror 8)
 * O = (x1, x3) and OU = (x5, x7). A window at x0 is E.(w0, w2) + O.(w1, w3) + x4 w4; the next window
 * at stride 1 is O.(w0, w2) + (x4, x2)x(w1, w3) (SMLADX, PKHBT pairs U's bottom with E's top) + x5 w4,
 * at stride 2 (x4, x2)x(w0, w2) + (x5, x3)x(w1, w3) + x6 w4: every tap of a pixel pair from the same
 * two loads. */
#include "depthwise_planes_dsp.h"

#if FN_USE_DSP
int fn_dw5x5_applies(const fn_dims *filter_dims) { return filter_dims->h == 5 && filter_dims->w == 5; }

/* Whether the 5x5 planes serve the call: at least 16 output pixels (the per-channel set-up and plane copy
 * cost more than the per-pixel path's skipped padded taps save on smaller maps: FlyNet's 2x2 x 864 layer
 * took 6.34 instructions per MAC here against 3.42, its 4x4 x 360 layers 3.79 against 5.15), pads of at
 * most 2 (the plane's rows and the pitch's columns hold them) and a last window whose second word load
 * stays inside the pitch. */
int fn_dw5x5_fits(const fn_dims *filter_dims, const fn_conv_params *p, const fn_dims *in, const fn_dims *out,
                  int32_t pad_h, int32_t pad_w)
{
    return fn_dw5x5_applies(filter_dims) && fn_dw_plane_bytes(in, filter_dims) > 0 && out->h * out->w >= 16 &&
           pad_h >= 0 && pad_h <= 2 && pad_w >= 0 && pad_w <= 2 &&
           (out->w - 1) * p->stride_w + 8 <= plane_pitch(in->w) && (out->h - 1) * p->stride_h + 5 <= in->h + 4;
}

/* One output channel's weights, doubled (fn_requant_doubled) and packed per filter row for the word
 * loads: (w0, w2), (w1, w3), (w4, 0); its requantization as dw_channel's. */
typedef struct {
    int32_t w02[5], w13[5], w4[5];
    int32_t exponent, bias2, multiplier, addend;
} dw5_channel;

static int32_t pack_doubled(int32_t bottom, int32_t top)
{
    return (int32_t)((uint32_t)(uint16_t)(2 * bottom) | (uint32_t)(2 * top) << 16);
}

static void prepare_5x5(dw5_channel *d, const int8_t *filter, int32_t total, int32_t oc, const int32_t *bias,
                        const fn_channel_quant *q, const fn_conv_params *p)
{
    int32_t sum = 0;
    const int8_t *w = filter + oc;
    for (int32_t r = 0; r < 5; ++r, w += 5 * total) {
        const int32_t w0 = w[0], w1 = w[total], w2 = w[2 * total], w3 = w[3 * total], w4 = w[4 * total];
        d->w02[r] = pack_doubled(w0, w2);
        d->w13[r] = pack_doubled(w1, w3);
        d->w4[r] = pack_doubled(w4, 0);
        sum += w0 + w1 + w2 + w3 + w4;
    }
    d->exponent = -q->shift[oc];
    d->bias2 = 2 * ((bias ? bias[oc] : 0) + p->input_offset * sum);
    d->multiplier = q->multiplier[oc];
    d->addend = fn_requant_addend(d->exponent, p->output_offset);
}

/* (bottom half of `bottom`, top half of `top`) in one PKHBT. */
static inline int32_t fn_pkhbt(int32_t bottom, int32_t top)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(bottom), "r"(top));
    return r;
}

static inline void store_5x5(int8_t *dst, int32_t acc2, const dw5_channel *d, int32_t act_min, int32_t act_max,
                             int keep_max)
{
    const int8_t v = (int8_t)fn_clamp32(fn_requant_doubled(acc2, d->multiplier, d->exponent, d->addend), act_min,
                                        act_max);
    *dst = keep_max && *dst > v ? *dst : v; /* MDW heads after the first keep the larger */
}

/* One output row of one channel: pixel pairs, then an odd width's last pixel. Inlined with constant
 * stride and keep_max (row_5x5_any). */
static inline __attribute__((always_inline)) void row_5x5(const int8_t *src, int32_t pitch, const dw5_channel *d,
                                                          int32_t out_stride, int8_t *dst, int32_t out_w,
                                                          int32_t stride, int32_t act_min, int32_t act_max,
                                                          int keep_max)
{
    int32_t x = 0;
    for (; x + 2 <= out_w; x += 2, src += 2 * stride, dst += 2 * out_stride) {
        int32_t a = d->bias2, b = d->bias2;
        const int8_t *row = src;
#pragma GCC unroll 5
        for (int32_t r = 0; r < 5; ++r, row += pitch) {
            const uint32_t v = fn_read_u32(row), u = fn_read_u32(row + 4);
            const int32_t e = __sxtb16((int32_t)v), o = fn_sxtb16_ror8(v), ue = __sxtb16((int32_t)u);
            const int32_t w02 = d->w02[r], w13 = d->w13[r], w4 = d->w4[r];
            a = __smlad(e, w02, a);
            a = __smlad(o, w13, a);
            a = __smlabb(ue, w4, a);
            if (stride == 1) {
                b = __smlad(o, w02, b);
                b = __smladx(fn_pkhbt(ue, e), w13, b);
                b = __smlabb(fn_sxtb16_ror8(u), w4, b);
            } else {
                b = __smladx(fn_pkhbt(ue, e), w02, b);
                b = __smladx(fn_pkhbt(fn_sxtb16_ror8(u), o), w13, b);
                b = __smlatb(ue, w4, b);
            }
        }
        store_5x5(dst, a, d, act_min, act_max, keep_max);
        store_5x5(dst + out_stride, b, d, act_min, act_max, keep_max);
    }
    if (x < out_w) {
        int32_t a = d->bias2;
        const int8_t *row = src;
        for (int32_t r = 0; r < 5; ++r, row += pitch) {
            const uint32_t v = fn_read_u32(row);
            a = __smlad(__sxtb16((int32_t)v), d->w02[r], a);
            a = __smlad(fn_sxtb16_ror8(v), d->w13[r], a);
            a = __smlabb(__sxtb16((int32_t)fn_read_u32(row + 4)), d->w4[r], a);
        }
        store_5x5(dst, a, d, act_min, act_max, keep_max);
    }
}

static void row_5x5_any(const int8_t *src, int32_t pitch, const dw5_channel *d, int32_t out_stride, int8_t *dst,
                        int32_t out_w, int32_t stride, int32_t act_min, int32_t act_max, int keep_max)
{
    if (stride == 1) {
        if (keep_max) {
            row_5x5(src, pitch, d, out_stride, dst, out_w, 1, act_min, act_max, 1);
        } else {
            row_5x5(src, pitch, d, out_stride, dst, out_w, 1, act_min, act_max, 0);
        }
    } else if (keep_max) {
        row_5x5(src, pitch, d, out_stride, dst, out_w, 2, act_min, act_max, 1);
    } else {
        row_5x5(src, pitch, d, out_stride, dst, out_w, 2, act_min, act_max, 0);
    }
}

void fn_dw5x5_planar(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in, const int8_t *input,
                     const int8_t *filter, const int32_t *bias, const fn_dims *out, int8_t *output, int32_t pad_h,
                     int32_t pad_w, int maxout, int8_t *plane_base)
{
    const int four_planes = fn_dw_plane_count(in, 5) == 4;
    const int32_t channels = in->c, heads = p->depth_multiplier, total = channels * heads, stride = p->stride_h;
    const int32_t pitch = plane_pitch(in->w), plane_step = one_plane_bytes(in, 5);
    const int32_t band = band_rows(in->h, out->h, stride, 5);
    const int32_t out_stride = maxout ? channels : total, out_row = out->w * out_stride;
    const uint32_t zp4 = (uint32_t)(uint8_t)(-p->input_offset) * 0x01010101u;
    fn_dw_fill_zero_point(plane_base, (four_planes ? 4 : 1) * plane_step, zp4);
    for (int32_t b = 0; b < out->n; ++b) {
        const int8_t *const x = input + b * in->h * in->w * channels;
        int8_t *const out_image = output + b * out->h * out_row;
        for (int32_t c0 = 0, count = 1; c0 < channels; c0 += count) {
            count = four_planes && c0 + 4 <= channels ? 4 : 1;
            for (int32_t oy0 = 0; oy0 < out->h; oy0 += band) {
                const int32_t rows = fn_min32(band, out->h - oy0);
                fill_planes(plane_base, plane_step, count, pitch, x + c0, channels, in->h, in->w,
                            oy0 * stride - pad_h, (rows - 1) * stride + 5, pad_w, zp4, band < out->h);
                for (int32_t i = 0; i < count; ++i) {
                    for (int32_t m = 0; m < heads; ++m) {
                        dw5_channel d;
                        prepare_5x5(&d, filter, total, (c0 + i) * heads + m, bias, q, p);
                        int8_t *dst = out_image + oy0 * out_row + (maxout ? c0 + i : (c0 + i) * heads + m);
                        const int8_t *plane = plane_base + i * plane_step;
                        for (int32_t r = 0; r < rows; ++r, plane += stride * pitch, dst += out_row) {
                            row_5x5_any(plane, pitch, &d, out_stride, dst, out->w, p->stride_w, p->act_min,
                                        p->act_max, maxout && m > 0);
                        }
                    }
                }
            }
        }
    }
}
#else
/* Keeps this translation unit non-empty in portable builds (ISO C). */
typedef int fn_dw5x5_portable_build_has_no_dsp_path;
#endif
