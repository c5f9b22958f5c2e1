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


def _dsp_conv_bytes(in_dims, filter_dims) -> int:
    """One int16 im2col column per pixel of the block, each K rounded up to a whole group of 4; 1x1
    filters: the larger of that and the tiled path's."""
    _, kh, kw, channels = filter_dims
    block = DSP_CONV_BLOCK * ((kh * kw * channels + 3) & ~3) * 2
    return max(block, _dsp_conv1x1_bytes(in_dims)) if (kh, kw) == (1, 1) else block


DSP_DEPTHWISE_PLANE_ROWS = 18  # FN_DW_PLANE_ROWS in firmware/kernels/depthwise/depthwise_planes_dsp.h


def _dsp_depthwise_bytes(in_dims, filter_dims) -> int:
    """3x3 and 5x5 filters: a band of input rows as an int8 plane per channel (`fn_dw_plane_bytes`, rows
    for the input padded by k - 1): 4 planes (4 channels copied at once) where there are 4 channels, the
    pitch is at most 64 and 3 more planes cost at most half (5x5: an eighth of) the input map's bytes,
    else one."""
    _, kh, kw, _ = filter_dims
    if (kh, kw) not in ((3, 3), (5, 5)):
        return 0
    needed = in_dims[2] + 8
    pitch = next((p for p in (16, 32, 64, 128, 256) if needed <= p), (needed + 3) & ~3)
    rows = min(DSP_DEPTHWISE_PLANE_ROWS, in_dims[1] + kh - 1)
    one_plane = rows * pitch + 12
    if kh == 5 and one_plane > math.prod(in_dims[1:]):
        return 0  # the 5x5 layer keeps the per-pixel path (`fn_dw_plane_bytes`)
    share = 2 if kh == 3 else 8
    planes = 4 if in_dims[3] >= 4 and pitch <= 64 and share * 3 * one_plane <= math.prod(in_dims[1:]) else 1
    return planes * one_plane


def _dsp_group_conv_bytes(in_dims, filter_dims) -> int:
    """1x1 grouped convs: one int16 block of GROUP_BLOCK (4) pixels' group inputs, each rounded up to 4
    (firmware/kernels/conv/group_conv2d_s8.c); other filters take the portable loops."""
    _, kh, kw, depth = filter_dims
    return 4 * ((depth + 3) & ~3) * 2 if (kh, kw) == (1, 1) else 0


_DSP_PATH_BYTES = {"fn_conv2d_s8_get_buffer_size": _dsp_conv_bytes,
                   "fn_group_conv2d_s8_get_buffer_size": _dsp_group_conv_bytes,
                   "fn_depthwise_conv2d_s8_get_buffer_size": _dsp_depthwise_bytes,
                   "fn_mdw_maxout_s8_get_buffer_size": _dsp_depthwise_bytes}


def scratch_bytes(query: ScratchQuery, dsp_kernels: bool = True) -> int:
    """Bytes to reserve for one kernel call: on a build with the Cortex-M DSP paths the larger of theirs
    and the portable path's (so the C runs on any build), without them (`FN_PORTABLE_ONLY`, --opt size)
    the portable path's alone."""
    dsp = _DSP_PATH_BYTES.get(query.function) if dsp_kernels else None
    return max(_host_bytes(query), dsp(*query.dims) if dsp else 0)
