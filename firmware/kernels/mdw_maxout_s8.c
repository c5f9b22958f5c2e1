/* Fused multihead depthwise conv + Max-out.
 *
 * For each input channel the h head responses are accumulated, requantized
 * exactly as DEPTHWISE_CONV_2D would, and reduced by max on the fly; REDUCE_MAX
 * on int8 keeps the scale, so the result equals the unfused pair bit for bit
 * while only C bytes per pixel (the output) are ever written.
 */
#include "fn_internal.h"

int32_t fn_mdw_maxout_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    (void)in_dims;
    (void)filter_dims;
    return 0; /* the h accumulators of one channel live in registers / on the stack */
}

fn_status fn_mdw_maxout_s8(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                           const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                           const int32_t *bias, const fn_dims *out_dims, int8_t *output, void *scratch)
{
    (void)scratch;
    return fn_depthwise_run(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, 1);
}
