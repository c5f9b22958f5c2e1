"""What an emitter hands the code generator for one layer: data first, C text only for the call.

A layer's kernel parameters are `ParamObject`s (a struct of the kernel ABI and its field values),
not C declarations: the writer names them at file scope, shares equal ones between layers and packs
them (`pack_params`) from these values. The call itself is C text with placeholders: `@IN0@`,
`@OUT0@`, `@SCRATCH@` for buffer addresses until the memory plan fixes them, and `&local` for the
address of the layer's parameter object named `local`. `overlap` says where the output may be written
over an input: the kernel's access order on every path (`overlap.py`), from which the placement
computes the safe offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernel_abi import c_initializer
from .overlap import Overlap


@dataclass
class ConstArray:
    name: str
    ctype: str          # "int8_t", "int16_t" or "int32_t"
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.values.size) * {"int8_t": 1, "int16_t": 2}.get(self.ctype, 4)


@dataclass
class ParamObject:
    """One constant struct the call takes by address: `&local` in the statements."""

    local: str
    ctype: str          # a struct of kernel_abi.STRUCTS
    values: dict        # field -> int, an enum constant's name, an array's name (pointers), or a nested dict

    @property
    def initializer(self) -> str:
        return c_initializer(self.ctype, self.values)


def dims_object(local: str, dims: tuple[int, int, int, int]) -> ParamObject:
    return ParamObject(local, "fn_dims", dict(zip("nhwc", (int(d) for d in dims))))


@dataclass
class ScratchQuery:
    """The kernel's `*_get_buffer_size` call: the function and its fn_dims arguments."""

    function: str
    dims: tuple[tuple[int, int, int, int], ...]
    c_args: str  # the same arguments as C expressions, for the generated size check


@dataclass
class LayerCode:
    summary: str                                   # one line for the comment above the call
    statements: list[str] = field(default_factory=list)
    arrays: list[ConstArray] = field(default_factory=list)
    scratch: ScratchQuery | None = None
    view: bool = False                             # no call: the output is the input's bytes (reshape)
    overlap: Overlap | None = None                 # the input the output may be written over, and how
    objects: list[ParamObject] = field(default_factory=list)


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(s) for s in shape) + "]"
