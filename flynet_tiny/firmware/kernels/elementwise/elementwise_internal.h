/* ADD and SUB int8, their DSP path (Cortex-M4/M7): static functions that fn_add_s8 (add_s8.c) and
 * fn_sub_s8 (sub_s8.c) inline. */
#ifndef FN_ELEMENTWISE_INTERNAL_H
#define FN_ELEMENTWISE_INTERNAL_H

#include "../support/fn_internal.h"

#if FN_USE_DSP
/* The DSP build's short form of ADD's (and SUB's) arithmetic, for what TFLM's quantization gives: left shift 20, input
 * offsets within +-128, input shifts 0..-31 and an output right shift of 1..22.
 * |(v + offset) << 20| <= 2^28, so the operand doubled fits an int32 and SMMULR's round(2x * m / 2^32)
 * is SaturatingRoundingDoublingHighMul(x, m), never its saturating case; SMMLAR adds 2^(e-1) on the
 * way and the rounding divide by 2^e (ties away from zero) is then (high + sign) >> e for e >= 1, the
 * sign taken from x (m >= 0: the product is negative only for x < 0, and where it rounds to 0 both
 * signs give 0).
 * Shift 0 comes only from a multiplier of exactly 1/2 (2^30; the larger input scale): that operand
 * is (v + offset) << 19 exactly, and the kernel swaps it into the second place (SUB then subtracts the
 * other way round: the signs of the two terms in the doubled sum say which).
 * A first operand with shift 0 as well (equal scales) takes the general form as 4x * 2^30 / 2^32 = x,
 * e = 1: (x + 1 + sign) >> 1 = x / 2 for even x. The sum (or difference) is below 2^30 in magnitude, so
 * fn_requant_doubled's form takes it doubled; its addend (2^(e-1) + offset * 2^e) gives the same
 * result whichever sign a product that rounds to 0 has. */
typedef struct {
    int32_t base, scale;     /* the first operand doubled: v * scale + base */
    int32_t multiplier, half, exponent;
    int32_t scale2, base2;   /* the second operand, rescaled and doubled, with its sign: v * scale2 + base2 */
    int32_t first_scale;     /* the first operand's sign, doubled: 2 or -2 */
    int32_t out_multiplier, out_exponent, addend, act_min, act_max;
} add_fast_params;

#define FN_ADD_HALF 1073741824 /* the multiplier of 1/2 */

/* `subtract`: SUB (input 1 - input 2) rather than ADD. */
static int add_fast_prepare(const fn_add_params *p, int subtract, add_fast_params *f, int *swap)
{
    if (p->left_shift != 20 || !fn_doubled_exponent(p->output_shift) || p->output_multiplier < 0 ||
        p->output_offset < -128 || p->output_offset > 127 || p->input1_offset < -128 || p->input1_offset > 128 ||
        p->input2_offset < -128 || p->input2_offset > 128) {
        return 0;
    }
    *swap = p->input2_shift != 0;
    const int32_t m1 = *swap ? p->input2_multiplier : p->input1_multiplier;
    const int32_t s1 = *swap ? p->input2_shift : p->input1_shift;
    const int32_t o1 = *swap ? p->input2_offset : p->input1_offset;
    const int32_t m2 = *swap ? p->input1_multiplier : p->input2_multiplier;
    const int32_t s2 = *swap ? p->input1_shift : p->input2_shift;
    const int32_t o2 = *swap ? p->input1_offset : p->input2_offset;
    if (s2 != 0 || m2 != FN_ADD_HALF || s1 > 0 || s1 < -31 || m1 < 0 || (s1 == 0 && m1 != FN_ADD_HALF)) {
        return 0;
    }
    const int scale_shift = s1 == 0 ? 22 : 21;
    f->scale = 1 << scale_shift;
    f->base = (int32_t)((uint32_t)o1 << scale_shift);
    f->multiplier = m1;
    f->exponent = s1 == 0 ? 1 : -s1;
    f->half = 1 << (f->exponent - 1);
    /* ADD: exact + first; SUB: first - exact, or exact - first where the exact operand is input 1. */
    const int negate_exact = subtract && !*swap, negate_first = subtract && *swap;
    f->scale2 = negate_exact ? -(1 << 20) : 1 << 20;
    f->base2 = (int32_t)((uint32_t)o2 << 20);
    f->base2 = negate_exact ? -f->base2 : f->base2;
    f->first_scale = negate_first ? -2 : 2;
    f->out_multiplier = p->output_multiplier;
    f->out_exponent = -p->output_shift;
    f->addend = fn_requant_addend(f->out_exponent, p->output_offset);
    f->act_min = p->act_min;
    f->act_max = p->act_max;
    return 1;
}

/* The first operand's whole part of the doubled sum: rescaled (SMMLAR, its sign), signed for SUB, with the
 * second operand's offset term folded in. */
static inline int32_t add_first_term(const add_fast_params *f, int32_t a)
{
    const int32_t doubled = a * f->scale + f->base;
    int32_t high;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(high) : "r"(doubled), "r"(f->multiplier), "r"(f->half));
    const int32_t first = (high + (doubled >> 31)) >> f->exponent;
    return first * f->first_scale + f->base2;
}

/* The sum doubled (the second operand's multiply-add on the first's term), requantized as fn_requant_doubled
 * does with SMMLAR adding the addend, the sign again taken from the operand. */
static inline int8_t add_fast_from_term(const add_fast_params *f, int32_t first_term, int32_t b, int full_range)
{
    const int32_t sum2 = first_term + b * f->scale2;
    int32_t high;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(high) : "r"(sum2), "r"(f->out_multiplier), "r"(f->addend));
    const int32_t y = (high + (sum2 >> 31)) >> f->out_exponent;
    return (int8_t)(full_range ? __ssat(y, 8) : fn_clamp32(y, f->act_min, f->act_max));
}

static inline int8_t add_fast_one(const add_fast_params *f, int32_t a, int32_t b, int full_range)
{
    return add_fast_from_term(f, add_first_term(f, a), b, full_range);
}

/* Equal shapes (residual adds): one flat loop, the full-range clamp as SSAT. From FN_ADD_TABLE_MIN elements
 * the first operand's term comes from a table of its 256 values, filled once per call. */
#define FN_ADD_TABLE_MIN 1024
static inline __attribute__((always_inline)) void add_flat(const add_fast_params *f, const int8_t *a,
                                                           const int8_t *b, int8_t *out, int32_t count,
                                                           int full_range)
{
    if (count < FN_ADD_TABLE_MIN) {
        for (int32_t i = 0; i < count; ++i) {
            out[i] = add_fast_one(f, a[i], b[i], full_range);
        }
        return;
    }
    int32_t terms[256]; /* indexed by the operand's byte, (uint8_t)a */
    for (int32_t v = FN_INT8_MIN; v <= FN_INT8_MAX; ++v) {
        terms[(uint8_t)v] = add_first_term(f, v);
    }
    /* The parameters in locals: int8 stores could alias *f, so the compiler would reload them per element. */
    const add_fast_params local = *f;
    const uint8_t *bytes = (const uint8_t *)a;
    for (int32_t i = 0; i < count; ++i) {
        out[i] = add_fast_from_term(&local, terms[bytes[i]], b[i], full_range);
    }
}

static inline int8_t add_fast_narrowed(const add_fast_params *f, int8_t a, int8_t b)
{
    return add_fast_one(f, a, b, 0);
}

static inline int8_t add_fast_narrowed_swapped(const add_fast_params *f, int8_t a, int8_t b)
{
    return add_fast_one(f, b, a, 0);
}

FN_BINARY_ROW(add_fast_row, add_fast_params, add_fast_narrowed)
FN_BINARY_ROW(add_fast_row_swapped, add_fast_params, add_fast_narrowed_swapped)

static int same_dims(const fn_dims *a, const fn_dims *b)
{
    return a->n == b->n && a->h == b->h && a->w == b->w && a->c == b->c;
}

static fn_status add_fast(const add_fast_params *f, int swap, const fn_dims *in1_dims, const int8_t *in1,
                          const fn_dims *in2_dims, const int8_t *in2, const fn_dims *out_dims, int8_t *output)
{
    if (!in1 || !in2 || !output || !fn_dims_valid(out_dims) || !fn_dims_valid(in1_dims) ||
        !fn_dims_valid(in2_dims) || !same_dims(in1_dims, out_dims) || !same_dims(in2_dims, out_dims)) {
        return fn_binary_broadcast(swap ? add_fast_row_swapped : add_fast_row, f, in1_dims, in1, in2_dims, in2,
                                   out_dims, output);
    }
    const int8_t *first = swap ? in2 : in1, *second = swap ? in1 : in2;
    if (f->act_min == FN_INT8_MIN && f->act_max == FN_INT8_MAX) {
        add_flat(f, first, second, output, fn_dims_count(out_dims), 1);
    } else {
        add_flat(f, first, second, output, fn_dims_count(out_dims), 0);
    }
    return FN_OK;
}
#endif

/* ADD (subtract 0) or SUB (1): the DSP build's fast form where the parameters allow it, else `row` over the
 * broadcast shapes. */
static inline fn_status fn_add_sub_s8(const fn_add_params *p, int subtract, fn_binary_row row, const fn_dims *in1_dims,
                                      const int8_t *in1, const fn_dims *in2_dims, const int8_t *in2,
                                      const fn_dims *out_dims, int8_t *output)
{
    if (p && (p->left_shift < 0 || p->left_shift > 30)) {
        return FN_ERR_ARGUMENT;
    }
#if FN_USE_DSP
    add_fast_params fast;
    int swap;
    if (p && add_fast_prepare(p, subtract, &fast, &swap)) {
        return add_fast(&fast, swap, in1_dims, in1, in2_dims, in2, out_dims, output);
    }
#else
    (void)subtract;
#endif
    return fn_binary_broadcast(row, p, in1_dims, in1, in2_dims, in2, out_dims, output);
}

#endif /* FN_ELEMENTWISE_INTERNAL_H */
