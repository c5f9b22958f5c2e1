"""Kernel scratch sizes, asked of the kernels themselves (`*_get_buffer_size`).

The host build answers for the portable C path. The Cortex-M4/M7 build takes the
DSP path, whose conv needs im2col columns and whose 3x3 / 5x5 depthwise / MDW need a
plane of input rows, which the portable path does not; the host
cannot run that code, so its size is computed here from the kernel's own formula
(firmware/kernels/conv/conv2d_s8_dsp.h, `column_length`). A plan for a build with the DSP
paths reserves the larger of the two, one for a portable build (`--opt size`) the
portable size alone; the generated C repeats the query on the target before each call (and
fails naming the layer if it wants more), and tests/test_codegen_arm.py runs a
generated model in QEMU on the M4 against the host.
"""

from __future__ import annotations

import ctypes
import math

from .dsp_planes import one_plane_bytes, plane_count
from .layer_code import ScratchQuery


def _host_bytes(query: ScratchQuery) -> int:
    from .host_kernels import dims4, shared_kernels

    function = getattr(shared_kernels().lib, query.function)
    function.restype = ctypes.c_int32
    return int(function(*[ctypes.byref(dims4(d)) for d in query.dims]))


DSP_CONV_BLOCK = 4  # output pixels per im2col block (FN_CONV_BLOCK in firmware/kernels/conv/conv_internal.h)


# 1x1 tiles (firmware/kernels/conv/conv2d_1x1_s8_dsp.c): PW_TILE pixels per tile; expanded input tiles (at most
# PW_MAX_SLOTS, and only as many as the map has, the pixels left over taking one) in at most PW_INPUT_BYTES
# and the input map's bytes, then one channel pair's words; fewer than PW_MIN_SLOTS: no tiled path.
DSP_PW_TILE, DSP_PW_INPUT_BYTES, DSP_PW_MIN_SLOTS, DSP_PW_MAX_SLOTS, DSP_PW_PARAM_WORDS = 3, 4096, 2, 33, 8


def _dsp_conv1x1_bytes(in_dims) -> int:
    """`fn_conv1x1_scratch_bytes`: the tiled 1x1 path's scratch, 0 where it does not apply."""
    pixels, kp = math.prod(in_dims[:3]), (in_dims[3] + 3) & ~3
    tile_bytes = DSP_PW_TILE * kp * 2
    needed = pixels // DSP_PW_TILE + (1 if pixels % DSP_PW_TILE else 0)
    slots = min(min(DSP_PW_INPUT_BYTES, math.prod(in_dims)) // tile_bytes, needed, DSP_PW_MAX_SLOTS)
    return slots * tile_bytes + (kp + DSP_PW_PARAM_WORDS) * 4 if slots >= DSP_PW_MIN_SLOTS else 0


# FN_CONV_PADDED_WEIGHTS_MAX, FN_CONV_ROW_WORDS in firmware/kernels/conv/conv2d_s8_dsp.h
DSP_CONV_PADDED_WEIGHTS_MAX, DSP_CONV_ROW_WORDS = 4096, 4


def _dsp_conv_bytes(in_dims, filter_dims) -> int:
    """`block_path_bytes`: one int16 im2col column per pixel of the block (K rounded up to a whole group of
    4); the int8 staging column (+ 4 bytes its word fills may write past) where C is not a multiple of 4;
    the weight rows padded to whole groups, each with 4 parameter words, where K is not a multiple of 4 and
    they take at most DSP_CONV_PADDED_WEIGHTS_MAX bytes. 1x1 filters: the larger of that and the tiled
    path's."""
    out_c, kh, kw, channels = filter_dims
    k = kh * kw * channels
    kp = (k + 3) & ~3
    rows = out_c * (kp + 4 * DSP_CONV_ROW_WORDS)
    padded_weights = rows if k % 4 and rows <= DSP_CONV_PADDED_WEIGHTS_MAX else 0
    block = DSP_CONV_BLOCK * kp * 2 + (kp + 4 if channels % 4 else 0) + padded_weights
    return max(block, _dsp_conv1x1_bytes(in_dims)) if (kh, kw) == (1, 1) else block


def _dsp_depthwise_bytes(in_dims, filter_dims) -> int:
    """3x3 and 5x5 filters: a band of input rows as an int8 plane per channel (`fn_dw_plane_bytes`, rows
    for the input padded by k - 1): 4 planes (4 channels copied at once) where there are 4 channels, the
    pitch is at most 64 and 3 more planes cost at most half (5x5: an eighth of) the input map's bytes,
    else one (`dsp_planes.py`)."""
    _, kh, kw, _ = filter_dims
    if (kh, kw) not in ((3, 3), (5, 5)):
        return 0
    one_plane = one_plane_bytes(in_dims, kh)
    if kh == 5 and one_plane > math.prod(in_dims[1:]):
        return 0  # the 5x5 layer keeps the per-pixel path (`fn_dw_plane_bytes`)
    return plane_count(in_dims, kh) * one_plane


DSP_DEPTHWISE_AS_CONV_HEADS = 4  # FN_DW_AS_CONV_HEADS in firmware/kernels/depthwise/depthwise_conv_s8.c


DSP_LINE_MAX_TAPS = 32  # FN_DW_LINE_MAX_TAPS in firmware/kernels/depthwise/depthwise_line_s8_dsp.c


def _dsp_line_bytes(in_dims, filter_dims) -> int:
    """`fn_dw_line_bytes`: k x 1 and 1 x k filters (2 <= k <= 32), 4 line planes (one under 4 channels) of the line,
    2 k bytes of pads and 4 of word reads, whole words."""
    _, kh, kw, _ = filter_dims
    k = max(kh, kw)
    if (kh == 1) == (kw == 1) or not 2 <= k <= DSP_LINE_MAX_TAPS:
        return 0
    length = in_dims[1] if kw == 1 else in_dims[2]
    return (4 if in_dims[3] >= 4 else 1) * ((length + 2 * k + 4 + 3) & ~3)


def _dsp_depthwise_any_bytes(in_dims, filter_dims) -> int:
    """The largest of the paths' scratch: the 3x3 / 5x5 planes, the line planes of 1-D filters, and on one input
    channel with 4 or more heads (run as a conv of `heads` output channels) the transposed weights, rounded up
    to words, and that conv's scratch."""
    planes = max(_dsp_depthwise_bytes(in_dims, filter_dims), _dsp_line_bytes(in_dims, filter_dims))
    _, kh, kw, heads = filter_dims
    if in_dims[3] != 1 or heads < DSP_DEPTHWISE_AS_CONV_HEADS:
        return planes
    conv_filter = (heads, kh, kw, 1)
    return max(planes, ((heads * kh * kw + 3) & ~3) + _dsp_conv_bytes(in_dims, conv_filter))


def _dsp_fc_pairs_bytes(in_dims, out_dims) -> int:
    """`fc_pairs_scratch_bytes`: a batch row widened to int16, in_features rounded up to a group of 4, two rows
    where there are 2 or more; none for one row of in_features a multiple of 4 and 4 or 8 outputs (the quads
    widen in their loop). in_dims = (batches, 1, 1, in_features), out_dims = (batches, 1, 1, out_features)."""
    batches, in_features, out_features = in_dims[0], in_dims[3], out_dims[3]
    if batches == 1 and in_features % 4 == 0 and out_features in (4, 8):
        return 0
    return ((in_features + 3) & ~3) * 2 * (2 if batches >= 2 else 1)


def _dsp_group_conv_bytes(in_dims, filter_dims) -> int:
    """1x1 grouped convs: one int16 block of GROUP_BLOCK (4) pixels' group inputs, each rounded up to 4
    (firmware/kernels/conv/group_conv2d_s8.c); other filters take the portable loops."""
    _, kh, kw, depth = filter_dims
    return 4 * ((depth + 3) & ~3) * 2 if (kh, kw) == (1, 1) else 0


_DSP_PATH_BYTES = {"fn_conv2d_s8_get_buffer_size": _dsp_conv_bytes,
                   "fn_fully_connected_pairs_s8_get_buffer_size": _dsp_fc_pairs_bytes,
                   "fn_group_conv2d_s8_get_buffer_size": _dsp_group_conv_bytes,
                   "fn_depthwise_conv2d_s8_get_buffer_size": _dsp_depthwise_any_bytes,
                   "fn_mdw_maxout_s8_get_buffer_size": _dsp_depthwise_any_bytes}


def scratch_bytes(query: ScratchQuery, dsp_kernels: bool = True) -> int:
    """Bytes to reserve for one kernel call: on a build with the Cortex-M DSP paths the larger of theirs
    and the portable path's (so the C runs on any build), without them (`FN_PORTABLE_ONLY`, --opt size)
    the portable path's alone."""
    dsp = _DSP_PATH_BYTES.get(query.function) if dsp_kernels else None
    return max(_host_bytes(query), dsp(*query.dims) if dsp else 0)
