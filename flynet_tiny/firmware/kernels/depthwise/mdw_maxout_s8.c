/* Fused multihead depthwise conv + Max-out.
 *
 * For each output pixel and channel the h head responses are accumulated in
 * registers, requantized exactly as DEPTHWISE_CONV_2D would, and reduced by max;
 * REDUCE_MAX on int8 keeps the scale, so the result equals the unfused pair bit
 * for bit while only C bytes per pixel are ever written to the feature map.
 */
#include "depthwise_internal.h"

int32_t fn_mdw_maxout_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims)
{
    return fn_depthwise_conv2d_s8_get_buffer_size(in_dims, filter_dims);
}

fn_status fn_mdw_maxout_s8(const fn_conv_params *p, const fn_channel_quant *q, const fn_dims *in_dims,
                           const int8_t *input, const fn_dims *filter_dims, const int8_t *filter,
                           const int32_t *bias, const fn_dims *out_dims, int8_t *output, void *scratch)
{
    return fn_depthwise_run(p, q, in_dims, input, filter_dims, filter, bias, out_dims, output, 1, scratch);
}
