"""The geometry of the DSP build's 3x3 / 5x5 depthwise channel planes, as the kernels compute it.

firmware/kernels/depthwise/depthwise_planes_dsp.h (plane_rows, plane_pitch, one_plane_bytes,
band_rows) and depthwise_planes_dsp.c (plane_count) in Python: the host cannot run that code, and
both the scratch size (`scratch.py`) and the kernels' access order (`overlap.py`: which input rows
each band reads) follow from it.
"""

from __future__ import annotations

import math

PLANE_ROWS = 18  # FN_DW_PLANE_ROWS


def plane_rows(height: int, k: int) -> int:
    return min(PLANE_ROWS, height + k - 1)


def plane_pitch(width: int) -> int:
    needed = width + 8
    return next((p for p in (16, 32, 64, 128, 256) if needed <= p), (needed + 3) & ~3)


def one_plane_bytes(in_dims, k: int) -> int:
    return plane_rows(in_dims[1], k) * plane_pitch(in_dims[2]) + 12


def plane_count(in_dims, k: int) -> int:
    """4 planes (4 adjacent channels copied at once) or 1."""
    map_bytes = math.prod(in_dims[1:])
    narrow = in_dims[3] >= 4 and plane_pitch(in_dims[2]) <= 64
    share = 2 if k == 3 else 8
    return 4 if narrow and share * 3 * one_plane_bytes(in_dims, k) <= map_bytes else 1


def band_rows(in_h: int, out_h: int, stride: int, k: int) -> int:
    """Output rows per band: as many as the plane holds, spread evenly over the bands, even where that fits."""
    most = (plane_rows(in_h, k) - k) // stride + 1
    bands = (out_h + most - 1) // most
    even = (((out_h + bands - 1) // bands) + 1) & ~1
    return min(even, most)


def channel_groups(in_dims, k: int) -> list[int]:
    """The channel counts the kernel copies at once, in order: 4 while 4 planes are in use and 4 are left, else 1."""
    four = plane_count(in_dims, k) == 4
    groups, c0 = [], 0
    while c0 < in_dims[3]:
        count = 4 if four and c0 + 4 <= in_dims[3] else 1
        groups.append(count)
        c0 += count
    return groups
