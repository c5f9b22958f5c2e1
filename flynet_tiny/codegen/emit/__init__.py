"""Per-layer C: one kernel call of firmware/kernels/flynet_kernels.h per layer, one module per op family.

Each emitter turns one IR layer into a `LayerCode`: its parameter objects (data, see layer_code),
the call, the constant arrays it needs in flash, the kernel's scratch query, and whether its output
may overwrite an input. Every kernel parameter is computed here, at generation time, with the int8
arithmetic TFLM's Prepare functions use (`flynet_tiny.int8.kernel_params`), so the C holds only numbers.
"""

from . import (activation, conv, data_movement, eca, elementwise, fully_connected, micronet,  # noqa: F401
               pooling, quantize, reduce, resize)  # (they register emitters)
from .registry import emit_layer, unsupported

__all__ = ["emit_layer", "unsupported"]
