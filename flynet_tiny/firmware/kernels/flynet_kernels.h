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
 * - No heap, no libc beyond string.h / stdint.h, no floating point except the
 *   float32 ends of QUANTIZE / DEQUANTIZE (single precision: the Cortex-M4F / M7 FPU).
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

/* 2-D convolution, OHWI weights, int32 bias (NULL allowed), any filter size, stride
 * and dilation. Output dims must be the ones TFLite computes for the padding,
 * strides and dilated filter (for EXPLICIT padding: a VALID convolution of the
 * input padded by the pad_* rows and columns). */
fn_status fn_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q,
                       const fn_dims *in_dims, const int8_t *input,
                       const fn_dims *filter_dims, const int8_t *filter,
                       const int32_t *bias, const fn_dims *out_dims, int8_t *output,
                       void *scratch);
int32_t fn_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims);

/* Depthwise convolution with channel multiplier h (any h >= 1): output channel
 * c*h + m reads input channel c. Weights 1 x KH x KW x (C*h); strides, dilations
 * and filters as fn_conv2d_s8. */
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

/* Transpose convolution (TRANSPOSE_CONV, Conv2DTranspose): input pixel (y, x) adds filter tap (ky, kx)
 * to output pixel (y * stride_h - pad_h + ky, x * stride_w - pad_w + kx), with TFLM's padding for
 * SAME / VALID (that of a conv from the output's size to the input's). Weights OHWI
 * [out_c][kh][kw][in_c], int32 bias (NULL allowed), per-channel requantization. Any output size (the
 * model's output_shape operand); dilation 1 (TFLite has no dilated transpose conv), up to 32 taps per axis. Needs no scratch
 * (the query answers 0). */
fn_status fn_transpose_conv2d_s8(const fn_conv_params *p, const fn_channel_quant *q,
                                 const fn_dims *in_dims, const int8_t *input,
                                 const fn_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, const fn_dims *out_dims, int8_t *output,
                                 void *scratch);
int32_t fn_transpose_conv2d_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *filter_dims);

/* ---- fully connected ------------------------------------------------ */

fn_status fn_fully_connected_s8(const fn_fc_params *p, const fn_channel_quant *q,
                                int32_t batches, int32_t in_features, const int8_t *input,
                                int32_t out_features, const int8_t *weights, const int32_t *bias,
                                int8_t *output);

/* FULLY_CONNECTED on weights the code generator packed in row pairs (flynet_tiny/codegen/fc_pairs.py):
 * rows 2p and 2p+1 as one int16 lane per input, w[2p][k] + 256 * w[2p+1][k] (no weight may be -128),
 * in quads of 4 rows, each group of 4 inputs in the order 0, 2, 1, 3; in_features rounded up to 4 and
 * out_features to 2 with zero weights. `bias` (never NULL) already holds input_offset * (row sum), so
 * the input is used raw. `requant`: (multiplier, -shift - 1) per output, TFLite's multiplier and shift
 * (or one pair of words with per_channel 0); where p->fast_requant is 1 the DSP build takes the
 * SMMULR form with exponent -shift. On a DSP core the input is widened once per batch row into `scratch`. */
fn_status fn_fully_connected_pairs_s8(const fn_fc_pairs_params *p, const int32_t *requant, int32_t batches,
                                      int32_t in_features, const int8_t *input, int32_t out_features,
                                      const int8_t *packed_weights, const int32_t *bias, int8_t *output,
                                      void *scratch);
/* in_dims = (batches, 1, 1, in_features), out_dims = (batches, 1, 1, out_features). */
int32_t fn_fully_connected_pairs_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *out_dims);

/* ---- elementwise ---------------------------------------------------- */

/* ADD (and the operands' rescaling to a common scale with TFLM's left shift 20).
 * Shapes are 4-D; an input dim of 1 broadcasts against the output dim. */
fn_status fn_add_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1,
                    const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims,
                    int8_t *output);

fn_status fn_mul_s8(const fn_mul_params *p, const fn_dims *in1_dims, const int8_t *in1,
                    const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims,
                    int8_t *output);

/* SUB: ADD's rescaling, the difference requantized (parameters from kernel_params.sub_params). */
fn_status fn_sub_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1,
                    const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims,
                    int8_t *output);

/* SQUARED_DIFFERENCE: left shift 7, the rescaled difference squared and requantized. */
fn_status fn_squared_difference_s8(const fn_add_params *p, const fn_dims *in1_dims, const int8_t *in1,
                                   const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims,
                                   int8_t *output);

/* MAXIMUM / MINIMUM of the raw values (as TFLM: the converter gives both operands and the output one
 * quantization), broadcasting. */
fn_status fn_maximum_s8(const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                        const int8_t *in2, const fn_dims *out_dims, int8_t *output);
fn_status fn_minimum_s8(const fn_dims *in1_dims, const int8_t *in1, const fn_dims *in2_dims,
                        const int8_t *in2, const fn_dims *out_dims, int8_t *output);

/* PRELU: alpha (int8, its own quantization) broadcasts against the input. */
fn_status fn_prelu_s8(const fn_prelu_params *p, const fn_dims *in_dims, const int8_t *input,
                      const fn_dims *alpha_dims, const int8_t *alpha, const fn_dims *out_dims,
                      int8_t *output);

fn_status fn_hard_swish_s8(const fn_hard_swish_params *p, int32_t size, const int8_t *input,
                           int8_t *output);

fn_status fn_logistic_s8(const fn_logistic_params *p, int32_t size, const int8_t *input,
                         int8_t *output);

/* TANH: TFLM's bytes, output 1/128 steps around 0 (whatever the output tensor says, as TFLM). */
fn_status fn_tanh_s8(const fn_logistic_params *p, int32_t size, const int8_t *input, int8_t *output);

/* RELU, RELU_N1_TO_1 (requantize to the output, clamp) and RELU6 (TFLM clamps the raw input to its
 * own 0 and 6: identity parameters). */
fn_status fn_relu_s8(const fn_relu_params *p, int32_t size, const int8_t *input, int8_t *output);

fn_status fn_leaky_relu_s8(const fn_leaky_relu_params *p, int32_t size, const int8_t *input,
                           int8_t *output);

/* out[i] = table[clamp(in[i], lo, hi) - lo]: a function of one int8 value as a table of its values
 * on lo..hi (-128 <= lo <= hi <= 127; constant below lo and above hi). The code generator runs
 * HARD_SWISH, LOGISTIC, TANH, the RELUs and LEAKY_RELU this way, the table filled at build time by
 * the kernels above on every input value. output may equal input. */
fn_status fn_lut_s8(const int8_t *table, int32_t lo, int32_t hi, int32_t size, const int8_t *input,
                    int8_t *output);

/* out[i] = clamp(in[i], lo, hi): the tables that are the identity between their ends (RELU6 or RELU on
 * the input's quantization) and MINIMUM / MAXIMUM with a constant. output may equal input. */
fn_status fn_clamp_s8(int32_t lo, int32_t hi, int32_t size, const int8_t *input, int8_t *output);

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

/* MEAN and REDUCE_MAX over the axes flagged 1 in `reduced` (n, h, w, c: 0 or 1 each); the output holds
 * the kept axes in order (keep_dims only changes its shape). REDUCE_MAX compares raw values (TFLM
 * requires one quantization in and out). */
fn_status fn_mean_s8(const fn_mean_params *p, const fn_dims *in_dims, const fn_dims *reduced,
                     const int8_t *input, int8_t *output);
fn_status fn_reduce_max_s8(const fn_dims *in_dims, const fn_dims *reduced, const int8_t *input,
                           int8_t *output);

/* ---- data movement (bytes copied: TFLM ignores the quantization) ------ */

/* Concatenate `count` tensors along one axis: each input is outer x axis_sizes[i] x inner. */
fn_status fn_concat_s8(int32_t count, const int8_t *const *inputs, const int32_t *axis_sizes,
                       int32_t outer, int32_t inner, int8_t *output);

/* SPLIT / SPLIT_V: the input (outer x sum(axis_sizes) x inner) into `count` outputs along one axis. */
fn_status fn_split_s8(int32_t count, int8_t *const *outputs, const int32_t *axis_sizes, int32_t outer,
                      int32_t inner, const int8_t *input);

/* TRANSPOSE: output axis i (n, h, w, c) is input axis perm's i-th field (0..3, a permutation). */
fn_status fn_transpose_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *perm,
                          int8_t *output);

/* STRIDED_SLICE with the masks resolved: out[i] = in[begin + i * strides] per axis (strides != 0,
 * either sign; every index read inside the input). */
fn_status fn_strided_slice_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *begin,
                              const fn_dims *strides, const fn_dims *out_dims, int8_t *output);

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

/* ---- resize (NHWC, batch and channels unchanged) ------------------------ */

/* RESIZE_NEAREST_NEIGHBOR: output pixel (y, x) is input pixel (rows[y], cols[x]). */
fn_status fn_resize_nearest_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *out_dims,
                               const int32_t *rows, const int32_t *cols, int8_t *output);

/* RESIZE_BILINEAR: rows[3 y .. 3 y + 2] = the lower and upper input row of output row y and the upper
 * one's weight in 1/1024 (TFLM's integer positions; cols the same per column). */
fn_status fn_resize_bilinear_s8(const fn_dims *in_dims, const int8_t *input, const fn_dims *out_dims,
                                const int32_t *rows, const int32_t *cols, int8_t *output);

/* ---- QUANTIZE / DEQUANTIZE ------------------------------------------ */

/* QUANTIZE between integer types, as TFLM's Requantize: y = clamp(MultiplyByQuantizedMultiplier(
 * x + input_offset, multiplier, shift) + output_offset) to the output type's range. int8 -> int8
 * anywhere in a model; uint8 -> int8 at a model input, int8 -> uint8 at an output. output may equal
 * input. */
fn_status fn_requantize_s8(const fn_requantize_params *p, int32_t size, const int8_t *input, int8_t *output);
fn_status fn_requantize_u8_s8(const fn_requantize_params *p, int32_t size, const uint8_t *input, int8_t *output);
fn_status fn_requantize_s8_u8(const fn_requantize_params *p, int32_t size, const int8_t *input, uint8_t *output);

/* QUANTIZE float32 -> int8: clamp(round(x / scale) + zero_point), halves away from zero (x / scale
 * beyond +-2^31 saturates, NaN counts as 0, as the Cortex-M FPU converts). */
fn_status fn_quantize_f32_s8(float scale, int32_t zero_point, int32_t size, const float *input, int8_t *output);

/* DEQUANTIZE int8 -> float32: scale * (q - zero_point), one float32 product per value, from the last
 * value down: output may equal input (the floats then cover the int8 values and 3 bytes per value more). */
fn_status fn_dequantize_s8_f32(float scale, int32_t zero_point, int32_t size, const int8_t *input, float *output);

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
