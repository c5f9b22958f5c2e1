/* Mean-and-variance-aware ECA, fused (see flynet_kernels.h for the op chain it equals).
 *
 * Each channel is walked (stride C) for its mean, then for the mean of the
 * requantized squared differences; the 1-D conv, the nonlinearity and the
 * channel scaling work on C-long vectors. Scratch: mean, variance and scale
 * vectors, 3*C bytes; the output may overwrite the input.
 *
 * The squared difference's input-2 term depends on the channel mean alone, so it
 * is computed once per channel. The DSP build takes the input-1 term from a
 * 256-entry int16 table (512 bytes of stack, filled once per image) and
 * requantizes the square and the MUL product with SMMULR (fn_requant_doubled)
 * where the shifts and bounds allow it (checked once per call); otherwise it
 * takes the general path, as the portable build always does. The softmax rows
 * (C / heads short rows) share one exp memo (1 KB of stack).
 */
#include "../support/fn_internal.h"
#include "eca_s8_dsp.h"

int32_t fn_eca_s8_get_buffer_size(const fn_dims *dims)
{
    return 3 * dims->c;
}

/* The DSP build keeps the general term out of line: the table, the bounds and the general path share
 * one copy (-O2 would inline it six times). */
#if FN_USE_DSP
#define ECA_OUT_OF_LINE __attribute__((noinline))
#else
#define ECA_OUT_OF_LINE
#endif

/* SQUARED_DIFFERENCE's input term: MBQM((v + offset) << left_shift). */
ECA_OUT_OF_LINE static int32_t sqdiff_term(const fn_eca_params *p, int32_t v, int32_t offset, int32_t multiplier,
                                           int32_t shift)
{
    return fn_mbqm(fn_wrap_shl(v + offset, p->sqdiff_left_shift), multiplier, shift);
}

static int8_t sqdiff_output(const fn_eca_params *p, int32_t diff)
{
    const int32_t out = fn_wrap_add(fn_mbqm(diff * diff, p->sqdiff_output_multiplier, p->sqdiff_output_shift),
                                    p->sqdiff_output_offset);
    return (int8_t)fn_clamp32(out, FN_INT8_MIN, FN_INT8_MAX);
}

/* Sum of one channel's values (stride C). */
static int32_t channel_sum(const int8_t *x, int32_t count, int32_t stride)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < count; ++i) {
        acc += x[i * stride];
    }
    return acc;
}

/* Mean and variance of every channel of one image. */
static void channel_stats(const fn_eca_params *p, const int8_t *x, int32_t channels, int32_t count, int8_t *mean,
                          int8_t *var)
{
    int32_t mean_multiplier, mean_shift, var_multiplier, var_shift;
    fn_mean_prepare(&p->mean, count, &mean_multiplier, &mean_shift);
    fn_mean_prepare(&p->var_mean, count, &var_multiplier, &var_shift);
#if FN_USE_DSP
    int16_t a_table[256];
    const int fast = sqdiff_fast_prepare(p, a_table);
#endif
    for (int32_t c = 0; c < channels; ++c) {
        const int8_t *xc = x + c;
        mean[c] = fn_mean_finish(&p->mean, channel_sum(xc, count, channels) - count * p->mean.input_zero_point,
                                 mean_multiplier, mean_shift);
        const int32_t b = sqdiff_term(p, mean[c], p->sqdiff_input2_offset, p->sqdiff_input2_multiplier,
                                      p->sqdiff_input2_shift);
        int32_t acc = 0;
#if FN_USE_DSP
        if (fast) {
            acc = fast_sqdiff_sum(p, a_table, xc, count, channels, b);
        } else
#endif
        {
            for (int32_t i = 0; i < count; ++i) {
                const int32_t a = sqdiff_term(p, xc[i * channels], p->sqdiff_input1_offset,
                                              p->sqdiff_input1_multiplier, p->sqdiff_input1_shift);
                acc += sqdiff_output(p, a - b);
            }
        }
        var[c] = fn_mean_finish(&p->var_mean, acc - count * p->var_mean.input_zero_point, var_multiplier, var_shift);
    }
}

/* CONV_2D over the channel axis of [mean, var] ([1, 1, C, 2] x [1, 1, z, 2], SAME). */
static int8_t channel_conv(const fn_eca_params *p, const int8_t *mean, const int8_t *var, int32_t channels, int32_t c)
{
    const int32_t first = c - (p->kernel_size - 1) / 2; /* channel under tap 0 */
    const int32_t k_end = fn_min32(p->kernel_size, channels - first); /* taps past the last channel read nothing */
    int32_t acc = 0;
    for (int32_t k = fn_max32(0, -first); k < k_end; ++k) {
        acc += (int32_t)p->kernel[2 * k] * ((int32_t)mean[first + k] + p->conv_input_offset);
        acc += (int32_t)p->kernel[2 * k + 1] * ((int32_t)var[first + k] + p->conv_input_offset);
    }
    return fn_requant_s8(acc + p->conv_bias, p->conv_multiplier, p->conv_shift, p->conv_output_offset, FN_INT8_MIN,
                         FN_INT8_MAX);
}

/* y = MUL(x, scale broadcast over H, W), channel by channel (stride C). */
static void scale_channels(const fn_eca_params *p, const int8_t *x, int8_t *y, int32_t channels, int32_t count,
                           const int8_t *scale)
{
    const fn_mul_params *m = &p->mul;
#if FN_USE_DSP
    const int32_t e = fn_doubled_exponent(m->output_shift); /* |product| <= 255 * 255: doubled, far below 2^30 */
    if (e) {
        for (int32_t c = 0; c < channels; ++c) {
            fast_scale_channel(m, e, x + c, y + c, count, channels, scale[c]);
        }
        return;
    }
#endif
    for (int32_t c = 0; c < channels; ++c) {
        const int32_t s = (int32_t)scale[c] + m->input2_offset;
        for (int32_t i = 0; i < count; ++i) {
            const int32_t product = ((int32_t)x[i * channels + c] + m->input1_offset) * s;
            y[i * channels + c] = fn_requant_s8(product, m->output_multiplier, m->output_shift, m->output_offset,
                                                m->act_min, m->act_max);
        }
    }
}

fn_status fn_eca_s8(const fn_eca_params *p, const fn_dims *dims, const int8_t *input, int8_t *output, void *scratch)
{
    if (!p || !input || !output || !scratch || !p->kernel) {
        return FN_ERR_ARGUMENT;
    }
    if (!fn_dims_valid(dims)) {
        return FN_ERR_SHAPE;
    }
    if (p->kernel_size < 1 || (p->kernel_size & 1) == 0) {
        return FN_ERR_UNSUPPORTED;
    }
    if (p->use_softmax && (p->heads < 1 || dims->c % p->heads != 0)) {
        return FN_ERR_SHAPE;
    }
    const int32_t channels = dims->c;
    const int32_t count = dims->h * dims->w;
    int8_t *mean = (int8_t *)scratch;
    int8_t *var = mean + channels;
    int8_t *scale = var + channels;
    for (int32_t b = 0; b < dims->n; ++b) {
        const int8_t *x = input + b * count * channels;
        channel_stats(p, x, channels, count, mean, var);
        for (int32_t c = 0; c < channels; ++c) {
            scale[c] = channel_conv(p, mean, var, channels, c);
        }
        if (p->use_softmax) {
            int32_t exp_memo[FN_SOFTMAX_EXP_MEMO];
            __builtin_memset(exp_memo, 0xff, sizeof exp_memo); /* every entry -1: unknown */
            for (int32_t g = 0; g < channels; g += p->heads) {
                fn_softmax_row(&p->softmax, p->heads, scale + g, 1, scale + g, 1, exp_memo);
            }
        } else {
            for (int32_t c = 0; c < channels; ++c) {
                scale[c] = fn_logistic_one(&p->logistic, scale[c]);
            }
        }
        scale_channels(p, x, output + b * count * channels, channels, count, scale);
    }
    return FN_OK;
}
