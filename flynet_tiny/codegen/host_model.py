"""Run generated model sources on the host: compile them with gcc beside the host kernel library.

    model = HostModel(generated)          # a GeneratedModel from generate_model_sources
    y = model.invoke(x)                   # a one-input, one-output model
    ys = model.invoke_all([x0, x1])       # any model: one array per input, one per output back

The kernels come from `host_kernels.build_host_library` (one host build of the
kernels); the model's own sources are compiled into a second shared library
whose kernel symbols resolve against the first.
"""

from __future__ import annotations

import ctypes
import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import CheckFailed, FlynetError
from .generate import GeneratedModel
from .host_kernels import build_host_library, compile_shared_library, kernel_include_dir

HOST_FLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]


def compile_host_model(generated: GeneratedModel, extra_flags: tuple[str, ...] = ()) -> Path:
    """Build the generated sources into a shared library in the model's folder (cached by content)."""
    flags = HOST_FLAGS + list(extra_flags)
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in [generated.header, *generated.sources, generated.out_dir / f"{generated.name}_weights.h"]:
        digest.update(path.read_bytes())
    library = generated.out_dir / f"lib{generated.name}_host_{digest.hexdigest()[:12]}.so"
    if not library.exists():
        compile_shared_library([*flags, "-I", str(kernel_include_dir()), "-I", str(generated.out_dir),
                                *map(str, generated.sources)], library, "host compile of the generated model")
    return library


class HostModel:
    def __init__(self, generated: GeneratedModel, extra_flags: tuple[str, ...] = ()):
        self.generated = generated
        # The kernels must be loaded globally first so the model library's calls resolve to them.
        self._kernels = ctypes.CDLL(str(build_host_library()), mode=ctypes.RTLD_GLOBAL)
        self.lib = ctypes.CDLL(str(compile_host_model(generated, extra_flags)))
        self.lib.flynet_invoke.restype = ctypes.c_int
        self.lib.flynet_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """The output of a one-input, one-output model."""
        if len(self.generated.inputs) != 1 or len(self.generated.outputs) != 1:
            raise FlynetError(f"the model has {len(self.generated.inputs)} inputs and {len(self.generated.outputs)} "
                              "outputs: use invoke_all")
        return self.invoke_all([x])[0]

    def invoke_all(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Every output (its dtype and shape) for one array per model input, in the model's order."""
        specs = self.generated.inputs
        if len(inputs) != len(specs):
            raise FlynetError(f"{len(inputs)} inputs given, the model takes {len(specs)}")
        arrays = []
        for number, (x, spec) in enumerate(zip(inputs, specs)):
            array = np.ascontiguousarray(x, dtype=spec.dtype)
            if array.nbytes != spec.nbytes:
                raise FlynetError(f"input {number} has {array.size} values, the model takes "
                                  f"{spec.nbytes // array.itemsize} {spec.dtype}")
            arrays.append(array)
        outputs = [np.zeros(spec.shape, dtype=spec.dtype) for spec in self.generated.outputs]
        in_pointers = (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])
        out_pointers = (ctypes.c_void_p * len(outputs))(*[o.ctypes.data for o in outputs])
        if self.lib.flynet_invoke(in_pointers, out_pointers) != 0:
            layer = ctypes.c_int.in_dll(self.lib, "flynet_error_layer").value
            status = ctypes.c_int.in_dll(self.lib, "flynet_error_status").value
            name = self.generated.layers[layer].name if 0 <= layer < len(self.generated.layers) else "?"
            raise CheckFailed(f"layer {layer} ({name}) failed with kernel status {status}")
        return outputs

    def layer_checksums(self) -> list[int]:
        """Per-layer output checksums of the last invoke (needs extra_flags=("-DFLYNET_LAYER_CHECKSUMS",))."""
        count = len(self.generated.layers)
        array = (ctypes.c_uint32 * count).in_dll(self.lib, "flynet_layer_checksums")
        return list(array)
