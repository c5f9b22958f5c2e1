/* Channel planes of the 3x3 and 5x5 depthwise / MDW DSP paths (depthwise_3x3_s8_dsp.c,
 * depthwise_5x5_s8_dsp.c; depthwise_planes_dsp.c): a band of input rows of one channel (or of 4
 * adjacent ones, into 4 planes), int8, rows `pitch` bytes apart, the padding filled with the input
 * zero point. */
#ifndef FN_DEPTHWISE_PLANES_DSP_H
#define FN_DEPTHWISE_PLANES_DSP_H

#include "depthwise_internal.h"

#if FN_USE_DSP
#define FN_DW_PLANE_ROWS 18 /* a band of 16 output rows at stride 1, 8 at stride 2 */

/* Plane rows for a k x k filter: never more than the input padded by k - 1 rows has. */
static inline int32_t plane_rows(int32_t height, int32_t k) { return fn_min32(FN_DW_PLANE_ROWS, height + k - 1); }

/* Output rows per band: as many as the plane holds, spread evenly over the bands and even where that
 * fits, so the 2-row kernels cover the band. */
static inline int32_t band_rows(int32_t in_h, int32_t out_h, int32_t stride, int32_t k)
{
    const int32_t most = (plane_rows(in_h, k) - k) / stride + 1, bands = (out_h + most - 1) / most;
    const int32_t even = (((out_h + bands - 1) / bands) + 1) & ~1;
    return fn_min32(even, most);
}

/* Row pitch: the input row, pads of up to 2 on both sides, 4 bytes a window's last load reads past,
 * rounded up to the pitches the 2-row assembly kernel has (the pitch is its load offset). */
static inline int32_t plane_pitch(int32_t width)
{
    const int32_t needed = width + 8;
    for (int32_t pitch = 16; pitch <= 256; pitch *= 2) {
        if (needed <= pitch) {
            return pitch;
        }
    }
    return (needed + 3) & ~3;
}

/* One channel's plane; + 12: the fill's last word stores run past the last row. */
static inline int32_t one_plane_bytes(const fn_dims *in_dims, int32_t k)
{
    return plane_rows(in_dims->h, k) * plane_pitch(in_dims->w) + 12;
}

/* 4 planes (4 adjacent channels copied at once) or 1 for a k x k filter. */
__attribute__((pure)) int32_t fn_dw_plane_count(const fn_dims *in_dims, int32_t k);
/* Every byte of `bytes` (a multiple of 4, word-aligned) of plane memory to the zero point zp4 (4 copies). */
void fn_dw_fill_zero_point(int8_t *plane, int32_t bytes, uint32_t zp4);
/* What fn_dw_copy_4channel_rows walks: channels (input bytes between pixels), plane_step, then #8..#20:
 * plane bytes of a row's whole 4-pixel groups, rows, and from the end of those groups in one row to
 * the start of the next in the plane and in the input. */
typedef struct {
    int32_t channels, plane_step;
    int32_t group_bytes, rows, dst_skip, src_skip;
} fn_dw_copy4_rows;
/* The whole 4-pixel groups of `rows` input rows of 4 adjacent channels into 4 planes. */
void fn_dw_copy_4channel_rows(int8_t *dst, const int8_t *src, const fn_dw_copy4_rows *a);

/* The C copies below are static, so each file that includes this header (the 3x3 and the 5x5 path)
 * compiles its own copy: as with the one copy in the single file both paths shared before, the
 * compiler knows its callers (count 1 or 4; the registers copy_channel_row leaves alone). An extern
 * copy lost that: 1,463 more instructions per inference of the bundled FlyNet (F746ZG). */
/* w bytes of one channel, `channels` apart, into a plane row: 4 byte loads packed into one word store.
 * Not inlined, so its few live values stay in registers. */
static __attribute__((noinline, unused)) void copy_channel_row(int8_t *dst, const int8_t *src, int32_t w,
                                                                int32_t channels)
{
    const int32_t c2 = 2 * channels, c3 = 3 * channels, c4 = 4 * channels;
    int8_t *const end4 = dst + (w & ~3), *const end = dst + w;
    for (; dst != end4; dst += 4, src += c4) {
        const uint32_t packed = (uint32_t)(uint8_t)src[0] | (uint32_t)(uint8_t)src[channels] << 8 |
                                (uint32_t)(uint8_t)src[c2] << 16 | (uint32_t)(uint8_t)src[c3] << 24;
        __builtin_memcpy(dst, &packed, 4);
    }
    for (; dst != end; ++dst, src += channels) {
        *dst = *src;
    }
}

/* Input rows iy0.. (`rows` of them, all inside the input) of 4 adjacent channels into 4 planes
 * (plane_step bytes apart): whole 4-pixel groups in assembly; where w mod 4 pixels are left, one more
 * group per row ends at the row's last pixel (re-writing 1..3 pixels with the same bytes); rows under 4
 * pixels here. */
static inline void copy_4channel_rows_any(int8_t *dst, int32_t plane_step, int32_t pitch, const int8_t *src,
                                          int32_t w, int32_t channels, int32_t rows)
{
    const int32_t groups = w >> 2, row_step = w * channels;
    if (groups > 0) {
        const fn_dw_copy4_rows a = {channels, plane_step, 4 * groups, rows, pitch - 4 * groups,
                              row_step - 4 * groups * channels};
        fn_dw_copy_4channel_rows(dst, src, &a);
        if (w & 3) {
            const fn_dw_copy4_rows last = {channels, plane_step, 4, rows, pitch - 4, row_step - 4 * channels};
            fn_dw_copy_4channel_rows(dst + w - 4, src + (w - 4) * channels, &last);
        }
        return;
    }
    for (int32_t r = 0; r < rows; ++r) {
        for (int32_t x = 0; x < w; ++x) {
            for (int32_t i = 0; i < 4; ++i) {
                dst[r * pitch + i * plane_step + x] = src[r * row_step + x * channels + i];
            }
        }
    }
}

/* Copy `rows` input rows of `count` (1 or 4) adjacent channels, from row iy0 on, into the planes
 * (plane_step bytes apart; in_h x in_w: the input map). The copies write only a row's input columns, so
 * the zero point the planes got once per call (fn_dw_fill_zero_point) stays around them; rows outside
 * the input get it again where `refill` (with one band no copy ever wrote there). */
static __attribute__((noinline, unused)) void fill_planes(int8_t *plane, int32_t plane_step, int32_t count,
                                                          int32_t pitch, const int8_t *x, int32_t channels,
                                                          int32_t in_h, int32_t in_w, int32_t iy0, int32_t rows,
                                                          int32_t pad_w, uint32_t zp4, int refill)
{
    const int32_t w = in_w, row_step = w * channels;
    const int32_t first = fn_max32(0, -iy0), end = fn_min32(rows, in_h - iy0); /* rows inside the input */
    for (int32_t i = 0; refill && i < count; ++i) {
        fn_dw_fill_zero_point(plane + i * plane_step, first * pitch, zp4);
        fn_dw_fill_zero_point(plane + i * plane_step + end * pitch, (rows - end) * pitch, zp4);
    }
    if (count == 4) {
        copy_4channel_rows_any(plane + first * pitch + pad_w, plane_step, pitch, x + (iy0 + first) * row_step, w,
                               channels, end - first);
        return;
    }
    for (int32_t r = first; r < end; ++r) {
        copy_channel_row(plane + r * pitch + pad_w, x + (iy0 + r) * row_step, w, channels);
    }
}
#endif

#endif /* FN_DEPTHWISE_PLANES_DSP_H */
