/* flynet-tiny int8 kernel library: the public API.
 *
 * Every kernel computes, bit for bit, what TFLite Micro's reference int8 kernel
 * computes for the same tensors and the same prepared parameters. Parameters
 * that TFLM derives in floating point at Prepare time (multipliers, shifts,
 * radii) are computed by the code generator at build time
 * (flynet_tiny/codegen/quant_params.py) and passed in these structs, so the
 * kernels themselves use integer arithmetic only.
 *
 * Conventions
 * - The parameter structs and enums are in flynet_kernels_abi.h, generated from
 *   flynet_tiny/codegen/kernel_abi.py (one description for C, ctypes and the packer).
 * - Layout NHWC. Weights as TFLite stores them: conv OHWI, depthwise
 *   1 x KH x KW x (C*h), fully connected [out][in].
 * - "offset" fields are negated zero points for inputs (input_offset = -zp)
 *   and the zero point itself for outputs, as in TFLM.
 * - Kernels with scratch needs have a *_get_buffer_size companion; pass a
 *   buffer of at least that many bytes (4-byte aligned), or NULL when it is 0.
 * - No heap, no libc beyond string.h / stdint.h, no floating point.
 * - On a core with __ARM_FEATURE_DSP the conv, depthwise and MDW kernels use
 *   the DSP SIMD instructions; define FN_PORTABLE_ONLY to force the portable
 *   C path. Both paths give identical bytes.
 */
#ifndef FLYNET_KERNELS_H
#define FLYNET_KERNELS_H

#include <stdint.h>

#include "flynet_kernels_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Short constant name of a status ("FN_ERR_UNSUPPORTED"), for runtime error reports. */
const char *fn_status_name(fn_status status);

/* TFLite's MultiplyByQuantizedMultiplier as a callable (the kernels inline it from fn_requant.h). */
int32_t fn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

/* ---- convolution ---------------------------------------------------- */

/* 2-D convolution, OHWI weights, int32 bias (NULL allowed). Output dims must be
 * the ones TFLite computes for the padding and strides (for EXPLICIT padding: a
 * VALID convolution of the input padded by the pad_* rows and columns). */
fn_status fn_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q,
                       const fn_dims *in_dims, const int8_t *input,
                       const fn_dims *filter_dims, const int8_t *filter,
                       const int32_t *bias, const fn_dims *out_dims, int8_t *output,
                       void *scratch);
int32_t fn_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims);

/* Depthwise convolution with channel multiplier h: output channel c*h + m
 * reads input channel c. Weights 1 x KH x KW x (C*h). */
fn_status fn_depthwise_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q,
                                 const fn_dims *in_dims, const int8_t *input,
                                 const fn_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const fn_dims *out_dims, int8_t *output,
                                 void *scratch);
int32_t fn_depthwise_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims);

/* Grouped convolution: TFLite's CONV_2D whose filter holds C_in / G input channels (OHWI,
 * G = in_dims->c / filter_dims->c). Output channel o belongs to group g = o / (C_out / G) and reads
 * input channels channel_map[g*Cf + i], i < Cf = filter_dims->c (channel_map NULL: g*Cf + i), so a
 * fixed channel permutation before the conv is folded into the map and never written. */
fn_status fn_group_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q,
                             const fn_dims *in_dims, const int8_t *input, const int16_t *channel_map,
                             const fn_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias, const fn_dims *out_dims, int8_t *output,
                             void *scratch);
int32_t fn_group_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims);

/* Fused multihead depthwise + Max-out: out[.., c] = max over m < h of the
 * requantized depthwise response of output channel c*h + m. Equal to
 * DEPTHWISE_CONV_2D(depth_multiplier h) followed by RESHAPE [.., C, h] +
 * REDUCE_MAX over heads; the C*h map never exists. out_dims->c == in_dims->c. */
fn_status fn_mdw_maxout_s8(const fn_conv_params *p, const fn_channel_quant *q,
                           const fn_dims *in_dims, const int8_t *input,
                           const fn_dims *filter_dims, const int8_t *filter,
                           const int32_t *bias, const fn_dims *out_dims, int8_t *output,
                           void *scratch);
int32_t fn_mdw_maxout_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims);

/* ---- fully connected ------------------------------------------------ */

fn_status fn_fully_connected_s8(const fn_fc_params *p, const fn_channel_quant *q,
                                int32_t batches, int32_t in_features, const int8_t *input,
                                int32_t out_features, const int8_t *weights, const int32_t *bias,
                                int8_t *output);

/* ---- elementwise ---------------------------------------------------- */

/* ADD (and the operands' rescaling to a common scale with TFLM's left shift 20).
 * Shapes are 4-D; an input dim of 1 broadcasts against the output dim. */
fn_status fn_add_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1,
                    const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims,
                    int8_t *output);

fn_status fn_mul_s8(const fn_mul_params *p, const fn_dims *in1_dims, const int8_t *in1,
                    const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims,
                    int8_t *output);

/* MAXIMUM of two tensors with equal quantization (TFLM requires it), broadcasting. */
fn_status fn_maximum_s8(const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                        const int8_t *in2, const fn_dims *out_dims, int8_t *output);

fn_status fn_hard_swish_s8(const fn_hard_swish_params *p, int32_t size, const int8_t *input,
                           int8_t *output);

fn_status fn_logistic_s8(const fn_logistic_params *p, int32_t size, const int8_t *input,
                         int8_t *output);

/* out[i] = table[clamp(in[i], lo, hi) - lo]: a function of one int8 value as a table of its values
 * on lo..hi (-128 <= lo <= hi <= 127; constant below lo and above hi). The code generator runs
 * HARD_SWISH and LOGISTIC this way, the table filled at build time by the kernels above on every
 * input value. output may equal input. */
fn_status fn_lut_s8(const int8_t *table, int32_t lo, int32_t hi, int32_t size, const int8_t *input,
                    int8_t *output);

/* SOFTMAX over the innermost `depth` values of each of `rows` rows; output
 * scale 1/256, zero point -128. */
fn_status fn_softmax_s8(const fn_softmax_params *p, int32_t rows, int32_t depth,
                        const int8_t *input, int8_t *output);

/* ---- pooling and reductions ----------------------------------------- */

fn_status fn_avgpool_s8(const fn_pool_params *p, const fn_dims *in_dims, const int8_t *input,
                        const fn_dims *out_dims, int8_t *output);
fn_status fn_maxpool_s8(const fn_pool_params *p, const fn_dims *in_dims, const int8_t *input,
                        const fn_dims *out_dims, int8_t *output);

/* Max-out: out[g] = max over m < heads of in[g*heads + m], g < groups (each channel's heads
 * adjacent, as a depthwise with channel multiplier `heads` writes them). output may equal input. */
fn_status fn_maxout_s8(int32_t groups, int32_t heads, const int8_t *input, int8_t *output);

/* MEAN over H and W with keep_dims (global average pooling), output [n,1,1,c]. */
fn_status fn_mean_hw_s8(const fn_mean_params *p, const fn_dims *in_dims, const int8_t *input,
                        int8_t *output);

/* ---- data movement (equal quantization in and out) ------------------ */

/* Concatenate `count` tensors along one axis: each input is outer x axis_sizes[i] x inner. */
fn_status fn_concat_s8(int32_t count, const int8_t *const *inputs, const int32_t *axis_sizes,
                       int32_t outer, int32_t inner, int8_t *output);

/* SLICE / crop: out = in[begin.n : begin.n+out.n, begin.h : ..., ...]. */
fn_status fn_slice_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *begin,
                      const fn_dims *out_dims, int8_t *output);

/* PAD with `pad_value` (the output zero point); `before` holds the leading pad per dim. */
fn_status fn_pad_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *before,
                    int8_t pad_value, const fn_dims *out_dims, int8_t *output);

/* Channel gather: out[p][c] = in[p][map[c]], c < out_channels, for each of `pixels` pixels. Not in place. */
fn_status fn_channel_gather_s8(int32_t pixels, int32_t in_channels, int32_t out_channels, const int16_t *map,
                               const int8_t *input, int8_t *output);

/* RESHAPE needs no kernel: the generator aliases the output to the input buffer. */

/* ---- mean-and-variance-aware ECA ------------------------------------ */

/* The attention block as the converter emits it:
 *   mu  = MEAN_hw(x)                         (int8, mean quant)
 *   d   = SQUARED_DIFFERENCE(x, mu)          (int8, sqdiff quant)
 *   var = MEAN_hw(d)                         (int8, var quant == mean quant)
 *   s   = CONV_2D over channels of [mu, var] (1 x z x 2 kernel, SAME) -> int8
 *   a   = LOGISTIC(s)  or  SOFTMAX(s) over groups of `heads` channels
 *   y   = MUL(x, a)                          (broadcast over H, W)
 * computed channel by channel: the d map and the a-broadcast never exist, and
 * y may overwrite x (output == input), so the block needs no feature-map buffer. */
fn_status fn_eca_s8(const fn_eca_params *p, const fn_dims *dims, const int8_t *input,
                    int8_t *output, void *scratch);
int32_t fn_eca_s8_get_buffer_size(const fn_dims *dims);

/* ---- MicroNet's dynamic Shift-Max -------------------------------- */

/* The converter's Shift-Max chain (see fn_shift_max_params) on x [n,h,w,c] with the coefficient vector
 * [1,1,1,2Kc] (its 2K slices at the params' offsets): for each element, y = max over k < K of
 *   ADD(MUL(x[c], a_k[c]), MUL(x[(c + shift) mod C], b_k[c]))
 * with TFLM's MUL, ADD and MAXIMUM arithmetic; the shifted map and every intermediate map never exist.
 * output may equal input. Scratch: the ADD operands' rescaling tables and one pixel. */
fn_status fn_shift_max_s8(const fn_shift_max_params *p, const fn_dims *dims, const int8_t *input,
                          const int8_t *coefficients, int8_t *output, void *scratch);
int32_t fn_shift_max_s8_get_buffer_size(const fn_dims *dims, const fn_dims *coefficient_dims);

#ifdef __cplusplus
}
#endif

#endif /* FLYNET_KERNELS_H */
