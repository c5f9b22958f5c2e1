/* DEPTHWISE_CONV_2D int8 with channel multiplier (TFLM reference_integer_ops::DepthwiseConvPerChannel). */
#include "depthwise_conv_s8_dsp.h"
#include "depthwise_internal.h"

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

/* Any other number of heads: one channel's heads at a time, FN_DW_CHUNK of them in accumulators on the
 * stack (MDW keeps the running max across the chunks). */
#define FN_DW_CHUNK 16
static int8_t *dw_pixel_any(const tap_window *t, int32_t channels, int32_t heads, const dw_output *o, int8_t *out)
{
    int32_t a[FN_DW_CHUNK];
    for (int32_t c = 0; c < channels; ++c) {
        int8_t best = FN_INT8_MIN;
        for (int32_t m0 = 0; m0 < heads; m0 += FN_DW_CHUNK) {
            const int32_t count = fn_min32(FN_DW_CHUNK, heads - m0);
            for (int32_t m = 0; m < count; ++m) {
                a[m] = 0;
            }
            const int8_t *xr = t->x + c, *wr = t->w + c * heads + m0;
            for (int32_t r = 0; r < t->rows; ++r, xr += t->x_row, wr += t->w_row) {
                for (int32_t k = 0; k < t->cols; ++k) {
                    const int32_t xv = (int32_t)xr[k * t->x_col] + t->input_offset;
                    for (int32_t m = 0; m < count; ++m) {
                        a[m] += (int32_t)wr[k * t->w_col + m] * xv;
                    }
                }
            }
            for (int32_t m = 0; m < count; ++m) {
                const int8_t v = dw_requant(o, a[m], c * heads + m0 + m);
                best = v > best ? v : best;
                if (!o->maxout) {
                    *out++ = v;
                }
            }
        }
        if (o->maxout) {
            *out++ = best;
        }
    }
    return out;
}

#if FN_USE_DSP
/* A depthwise layer on one input channel with several heads (micro_speech's 10x8, 8 heads) is a conv of
 * `heads` output channels: output channel m sums the same window with filter m. The DSP build runs it as
 * fn_conv2d_s8 over the weights transposed into the scratch (OHWI [heads][kh][kw][1]; same bias and
 * requantization per channel), whose im2col serves all heads at once; from 4 heads on that beats the
 * per-pixel path (10.8 instructions per MAC on micro_speech's layer). */
#define FN_DW_AS_CONV_HEADS 4
static int takes_conv(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    return in_dims->c == 1 && filter_dims->c >= FN_DW_AS_CONV_HEADS;
}

static fn_dims conv_filter(const fn_dims *filter_dims)
{
    const fn_dims f = {filter_dims->c, filter_dims->h, filter_dims->w, 1};
    return f;
}

/* The transposed weights (rounded up to whole words), then the conv's scratch. */
static int32_t conv_route_bytes(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    const fn_dims f = conv_filter(filter_dims);
    return ((fn_dims_count(&f) + 3) & ~3) + fn_conv2d_s8_get_buffer_size(in_dims, &f);
}

static void run_as_conv(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                        const int8_t *input, const fn_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                        const fn_dims *out_dims, int8_t *output, int8_t *scratch)
{
    const fn_dims f = conv_filter(filter_dims);
    const int32_t taps = filter_dims->h * filter_dims->w, heads = filter_dims->c;
    for (int32_t m = 0; m < heads; ++m) {
        for (int32_t t = 0; t < taps; ++t) {
            scratch[m * taps + t] = filter[t * heads + m];
        }
    }
    (void)fn_conv2d_s8(p, q, in_dims, input, &f, scratch, bias, out_dims, output,
                       scratch + ((fn_dims_count(&f) + 3) & ~3)); /* shapes already checked */
}
#endif

int32_t fn_depthwise_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
#if FN_USE_DSP
    if (in_dims && filter_dims) {
        const int32_t planes =
            fn_dw3x3_applies(filter_dims) || fn_dw5x5_applies(filter_dims) ? fn_dw_plane_bytes(in_dims, filter_dims) : 0;
        const int32_t line = fn_dw_line_applies(filter_dims) ? fn_dw_line_bytes(in_dims, filter_dims) : 0;
        return fn_max32(fn_max32(planes, line), takes_conv(in_dims, filter_dims) ? conv_route_bytes(in_dims, filter_dims) : 0);
    }
#endif
    (void)in_dims;
    (void)filter_dims;
    return 0; /* accumulators live in registers */
}

/* Checks shared by depthwise and MDW; `out_c` is the expected output channel count. */
fn_status fn_check_depthwise(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                             const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                             const fn_dims *out_dims, int32_t out_c, const int8_t *output, int32_t *pad_h,
                             int32_t *pad_w)
{
    if (!p || !q || !input || !filter || !output || !filter_dims || !q->multiplier || !q->shift) {
        return FN_ERR_ARGUMENT;
    }
    if (p->depth_multiplier < 1) {
        return FN_ERR_ARGUMENT;
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
    if (!maxout && takes_conv(in_dims, filter_dims)) {
        if (!scratch) {
            return FN_ERR_ARGUMENT;
        }
        run_as_conv(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, (int8_t *)scratch);
        return FN_OK;
    }
    /* One head, a one-dimensional filter, taps adjacent along it: the line planes. */
    if (heads == 1 && fn_dw_line_applies(filter_dims) &&
        (filter_dims->w == 1 ? p->dilation_h : p->dilation_w) == 1 &&
        fn_fast_requant_applies(bias, q->shift, in_dims->c, filter_dims->h * filter_dims->w)) {
        if (!scratch) {
            return FN_ERR_ARGUMENT;
        }
        fn_dw_line_planar(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, pad_h, pad_w,
                          (int8_t *)scratch);
        return FN_OK;
    }
    /* The plane paths step windows 1 or 2 pixels apart over undilated taps, and keep one channel's heads
     * set up at once (up to FN_DW_PLANE_HEADS). */
    const int plane_geometry = p->dilation_h == 1 && p->dilation_w == 1 && p->stride_h <= 2 && p->stride_w <= 2 &&
                               heads <= FN_DW_PLANE_HEADS;
    const int planar3 = plane_geometry && fn_dw3x3_applies(filter_dims);
    if (planar3 || (plane_geometry && fn_dw5x5_fits(filter_dims, p, in_dims, out_dims, pad_h, pad_w))) {
        if (!scratch) {
            return FN_ERR_ARGUMENT;
        }
        if (fn_fast_requant_applies(bias, q->shift, in_dims->c * heads, planar3 ? 9 : 25)) {
            (planar3 ? fn_dw3x3_planar : fn_dw5x5_planar)(p, q, in_dims, input, filter, bias, out_dims, output,
                                                          pad_h, pad_w, maxout, (int8_t *)scratch);
            return FN_OK;
        }
    }
#else
    (void)scratch;
#endif
    const int32_t channels = in_dims->c;
    const int32_t total = channels * heads;
    const dw_output o = {bias, q->multiplier, q->shift, p->output_offset, p->act_min, p->act_max, maxout};
#if FN_USE_DSP
    const int fast = heads == 1 && fn_fast_requant_applies(bias, q->shift, total, filter_dims->h * filter_dims->w);
#endif
    tap_window t;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    t.x_row = dh * in_dims->w * channels;
    t.w_row = filter_dims->w * total;
    t.x_col = dw * channels;
    t.w_col = total;
    t.input_offset = p->input_offset;
    for (int32_t b = 0; b < out_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_dims->h; ++oy) {
            const int32_t y0 = oy * p->stride_h - pad_h;
            int32_t ky0, ky1;
            fn_tap_range(y0, filter_dims->h, dh, in_dims->h, &ky0, &ky1);
            for (int32_t ox = 0; ox < out_dims->w; ++ox) {
                const int32_t x0 = ox * p->stride_w - pad_w;
                int32_t kx0, kx1;
                fn_tap_range(x0, filter_dims->w, dw, in_dims->w, &kx0, &kx1);
                /* A window with no real tap (dilated filters) sums nothing: the bias alone. */
                const int empty = ky1 <= ky0 || kx1 <= kx0;
                t.rows = empty ? 0 : ky1 - ky0;
                t.cols = empty ? 0 : kx1 - kx0;
                t.x = empty ? input : input + ((b * in_dims->h + y0 + ky0 * dh) * in_dims->w + x0 + kx0 * dw) * channels;
                t.w = empty ? filter : filter + (ky0 * filter_dims->w + kx0) * total;
                switch (heads) {
#if FN_USE_DSP
                case 1:
                    output = fast ? dw_pixel_simd(&t, channels, &o, output, 1) : dw_pixel_simd(&t, channels, &o, output, 0);
                    break;
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
