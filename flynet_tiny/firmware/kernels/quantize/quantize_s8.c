/* QUANTIZE and DEQUANTIZE, as TFLite Micro's reference kernels compute them:
 * - between integer types (uint8 -> int8, int8 -> int8, int8 -> uint8): Requantize, i.e.
 *   MultiplyByQuantizedMultiplier(x - input_zp) with the effective scale input / output, plus the
 *   output zero point, clamped. Equal scales give the multiplier 2^30, shift 1, which is x itself,
 *   so that case is an add (and for a zero-point shift of 128, a flip of every byte's top bit);
 * - float32 -> int8: x / scale in float32, rounded half away from zero, plus the zero point;
 * - int8 -> float32: scale * (q - zero_point) in float32 (TFLM's double product of the same
 *   operands is exact and then rounded to float once: the same bits). */
#include <string.h>

#include "../support/fn_internal.h"

static int same_scale(const fn_requantize_params *p)
{
    return p->multiplier == (INT32_C(1) << 30) && p->shift == 1;
}

static int32_t requantize_one(const fn_requantize_params *p, int32_t x)
{
    return fn_wrap_add(fn_mbqm(fn_wrap_add(x, p->input_offset), p->multiplier, p->shift), p->output_offset);
}

/* out = in ^ 0x80 per byte: the uint8 <-> int8 reinterpretation of an equal-scale, zero-point-128 shift,
 * four bytes per word where both buffers allow it. */
static void flip_top_bits(const uint8_t *input, uint8_t *output, int32_t size)
{
    int32_t i = 0;
    if ((((uintptr_t)input | (uintptr_t)output) & 3u) == 0) {
        for (; i + 4 <= size; i += 4) {
            uint32_t word;
            memcpy(&word, input + i, 4);
            word ^= 0x80808080u;
            memcpy(output + i, &word, 4);
        }
    }
    for (; i < size; ++i) {
        output[i] = (uint8_t)(input[i] ^ 0x80u);
    }
}

fn_status fn_requantize_s8(const fn_requantize_params *p, int32_t size, const int8_t *input, int8_t *output)
{
    if (!p || !input || !output || size < 0) {
        return FN_ERR_ARGUMENT;
    }
    if (same_scale(p)) {
        const int32_t offset = p->input_offset + p->output_offset;
        for (int32_t i = 0; i < size; ++i) {
            output[i] = (int8_t)fn_clamp32(input[i] + offset, FN_INT8_MIN, FN_INT8_MAX);
        }
        return FN_OK;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = (int8_t)fn_clamp32(requantize_one(p, input[i]), FN_INT8_MIN, FN_INT8_MAX);
    }
    return FN_OK;
}

/* uint8 <-> int8 (`input_signed` says which side is int8): the top-bit flip when the scales are equal and
 * the zero points `flip_offset` apart, else the general path. Bytes are written as the output type's bits. */
static fn_status requantize_bytes(const fn_requantize_params *p, int32_t size, const uint8_t *input, int input_signed,
                                  uint8_t *output, int32_t flip_offset, int32_t out_min, int32_t out_max)
{
    if (!p || !input || !output || size < 0) {
        return FN_ERR_ARGUMENT;
    }
    if (same_scale(p) && p->input_offset + p->output_offset == flip_offset) {
        flip_top_bits(input, output, size);
        return FN_OK;
    }
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = input_signed ? (int32_t)(int8_t)input[i] : (int32_t)input[i];
        output[i] = (uint8_t)fn_clamp32(requantize_one(p, x), out_min, out_max);
    }
    return FN_OK;
}

fn_status fn_requantize_u8_s8(const fn_requantize_params *p, int32_t size, const uint8_t *input, int8_t *output)
{
    return requantize_bytes(p, size, input, 0, (uint8_t *)output, -128, FN_INT8_MIN, FN_INT8_MAX);
}

fn_status fn_requantize_s8_u8(const fn_requantize_params *p, int32_t size, const int8_t *input, uint8_t *output)
{
    return requantize_bytes(p, size, (const uint8_t *)input, 1, output, 128, 0, 255);
}

/* round(v), halves away from zero, saturated to int32 the way the Cortex-M FPU's conversion saturates
 * (NaN -> 0). TFLM's std::round + static_cast agree for |v| < 2^31. No libm: trunc, then the exact
 * remainder v - trunc(v) decides. */
static int32_t round_saturated(float v)
{
    if (v != v) {
        return 0;
    }
    if (v >= 2147483648.0f) {
        return INT32_MAX;
    }
    if (v <= -2147483648.0f) {
        return INT32_MIN;
    }
    int32_t whole = (int32_t)v;
    const float remainder = v - (float)whole;
    if (remainder >= 0.5f) {
        whole += 1;
    } else if (remainder <= -0.5f) {
        whole -= 1;
    }
    return whole;
}

fn_status fn_quantize_f32_s8(float scale, int32_t zero_point, int32_t size, const float *input, int8_t *output)
{
    if (!input || !output || size < 0 || !(scale > 0.0f)) {
        return FN_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < size; ++i) {
        /* Clamped to +-1024 first: the sum with the zero point cannot overflow. */
        const int32_t q = fn_clamp32(round_saturated(input[i] / scale), -1024, 1024) + zero_point;
        output[i] = (int8_t)fn_clamp32(q, FN_INT8_MIN, FN_INT8_MAX);
    }
    return FN_OK;
}

fn_status fn_dequantize_s8_f32(float scale, int32_t zero_point, int32_t size, const int8_t *input, float *output)
{
    if (!input || !output || size < 0) {
        return FN_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = scale * (float)(input[i] - zero_point);
    }
    return FN_OK;
}
