/* Mean-and-variance-aware ECA, fused (see flynet_kernels.h for the op chain it equals).
 *
 * Pass 1 and 2 walk each channel (stride C) for its mean, then for the mean of
 * the requantized squared differences; the 1-D conv, the nonlinearity and the
 * channel scaling work on C-long vectors. Scratch: mean, variance and scale
 * vectors, 3*C bytes; the output may overwrite the input.
 */
#include "fn_internal.h"

int32_t fn_eca_s8_get_buffer_size(const fn_dims *dims)
{
    return 3 * dims->c;
}

static int8_t squared_difference(const fn_eca_params *p, int8_t x, int8_t y)
{
    const int32_t a = fn_mbqm(fn_wrap_shl((int32_t)x + p->sqdiff_input1_offset, p->sqdiff_left_shift),
                              p->sqdiff_input1_multiplier, p->sqdiff_input1_shift);
    const int32_t b = fn_mbqm(fn_wrap_shl((int32_t)y + p->sqdiff_input2_offset, p->sqdiff_left_shift),
                              p->sqdiff_input2_multiplier, p->sqdiff_input2_shift);
    const int32_t diff = a - b;
    const int32_t out = fn_wrap_add(fn_mbqm(diff * diff, p->sqdiff_output_multiplier, p->sqdiff_output_shift),
                                    p->sqdiff_output_offset);
    return (int8_t)fn_clamp32(out, FN_INT8_MIN, FN_INT8_MAX);
}

/* CONV_2D over the channel axis of [mean, var] ([1, 1, C, 2] x [1, 1, z, 2], SAME). */
static int8_t channel_conv(const fn_eca_params *p, const int8_t *mean, const int8_t *var, int32_t channels, int32_t c)
{
    const int32_t half = (p->kernel_size - 1) / 2;
    int32_t acc = 0;
    for (int32_t k = 0; k < p->kernel_size; ++k) {
        const int32_t src = c - half + k;
        if (src < 0 || src >= channels) {
            continue;
        }
        acc += (int32_t)p->kernel[2 * k] * ((int32_t)mean[src] + p->conv_input_offset);
        acc += (int32_t)p->kernel[2 * k + 1] * ((int32_t)var[src] + p->conv_input_offset);
    }
    return fn_requant_s8(acc + p->conv_bias, p->conv_multiplier, p->conv_shift, p->conv_output_offset, FN_INT8_MIN,
                         FN_INT8_MAX);
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
    int32_t var_multiplier, var_shift;
    fn_mean_prepare(&p->var_mean, count, &var_multiplier, &var_shift);
    for (int32_t b = 0; b < dims->n; ++b) {
        const int8_t *x = input + b * count * channels;
        int8_t *y = output + b * count * channels;
        for (int32_t c = 0; c < channels; ++c) {
            mean[c] = fn_mean_channel(&p->mean, x + c, count, channels);
            int32_t acc = 0;
            for (int32_t i = 0; i < count; ++i) {
                acc += (int32_t)squared_difference(p, x[i * channels + c], mean[c]) - p->var_mean.input_zero_point;
            }
            var[c] = fn_mean_finish(&p->var_mean, acc, var_multiplier, var_shift);
        }
        for (int32_t c = 0; c < channels; ++c) {
            scale[c] = channel_conv(p, mean, var, channels, c);
        }
        if (p->use_softmax) {
            for (int32_t g = 0; g < channels; g += p->heads) {
                fn_softmax_row(&p->softmax, p->heads, scale + g, 1, scale + g, 1);
            }
        } else {
            for (int32_t c = 0; c < channels; ++c) {
                scale[c] = fn_logistic_one(&p->logistic, scale[c]);
            }
        }
        const fn_mul_params *m = &p->mul;
        for (int32_t i = 0; i < count; ++i) {
            for (int32_t c = 0; c < channels; ++c) {
                const int32_t product = ((int32_t)x[i * channels + c] + m->input1_offset) *
                                        ((int32_t)scale[c] + m->input2_offset);
                y[i * channels + c] = fn_requant_s8(product, m->output_multiplier, m->output_shift, m->output_offset,
                                                    m->act_min, m->act_max);
            }
        }
    }
    return FN_OK;
}
