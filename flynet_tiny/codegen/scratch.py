"""Kernel scratch sizes, asked of the kernels themselves (`*_get_buffer_size`, host build).

The generated C repeats the query on the target before each call and fails
with FN_ERR_ARGUMENT, naming the layer, if the target's kernels want more
than was planned (their DSP paths may differ from the host's portable path).
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

from .emit_c import ScratchQuery


@lru_cache(maxsize=1)
def _kernels():
    from .host_kernels import HostKernels

    return HostKernels()


def scratch_bytes(query: ScratchQuery) -> int:
    from .host_kernels import dims4

    kernels = _kernels()
    function = getattr(kernels.lib, query.function)
    function.restype = ctypes.c_int32
    return int(function(*[ctypes.byref(dims4(d)) for d in query.dims]))
