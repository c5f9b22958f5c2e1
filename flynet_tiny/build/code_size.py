"""Runtime code of a linked firmware, from its GNU ld map file: kernels and generated glue.

    kernels, glue = runtime_code_bytes(result.map, generated.name)

Runtime code = the kernels linked in (firmware/kernels/*.c objects) plus the generated glue
(model.c: the calls, parameter structs, layer names), without the weights (model_weights.c)
and without the firmware's startup, UART runtime, benchmark main and libc. Counted from the
map's input sections, so only what --gc-sections kept counts.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..codegen.host_kernels import kernel_sources
from .link_map import input_sections


FLASH_SECTIONS = (".text", ".rodata", ".data")


def linked_flash_by_object(map_text: str) -> dict[str, int]:
    """Bytes of code and constant data (.text / .rodata / .data input sections) each object file put
    into the linked image, from a GNU ld map file."""
    sizes: dict[str, int] = {}
    for entry in input_sections(map_text):
        if entry.section.startswith(FLASH_SECTIONS):
            sizes[entry.source] = sizes.get(entry.source, 0) + entry.size
    return sizes


def runtime_code_bytes(map_path: Path, model_name: str) -> tuple[int, int]:
    """(kernels, generated glue) bytes in flash; the firmware names objects NN_<source stem>.o."""
    kernel_stems = {p.stem for p in kernel_sources()}
    kernels = glue = 0
    for obj, size in linked_flash_by_object(Path(map_path).read_text()).items():
        stem = re.sub(r"^\d+_", "", Path(obj).stem)
        if stem in kernel_stems:
            kernels += size
        elif stem == model_name:
            glue += size
    return kernels, glue
