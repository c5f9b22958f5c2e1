"""What a build's objects put in each memory region, item by item (weights, model code, kernels, I/O, ...).

The linker's view without linking: the sections reachable from the reset handler, as --gc-sections keeps
them, each placed by the target's placement table. Used by the calibration build (to find what it does not
itemize) and by every estimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..build.bench_firmware import aligned_offsets
from ..build.options import DEFAULT_HEAP_BYTES, DEFAULT_STACK_BYTES
from ..errors import FlynetError
from ..targets import Target
from .objects import ObjectSet, SectionRef, packed_bytes

_WEIGHT_DECLARATION = re.compile(r"^extern const (int8_t|int32_t) (\w+)\[(\d+)\];", re.M)
_DEFINE = re.compile(r"^#define (FLYNET_\w+) (\d+)", re.M)
_KEEP_SECTIONS = (".isr_vector", ".init_array", ".fini_array", ".preinit_array", ".init", ".fini")
MODEL_OBJECT_NAME = "model.o"

@dataclass(frozen=True)
class Item:
    name: str
    region: str
    bytes: int


@dataclass(frozen=True)
class WeightArray:
    name: str
    layer: int
    bytes: int


@dataclass
class Itemized:
    items: list[Item]
    externals: set[str]
    objects: ObjectSet
    kernels: dict[str, int]  # kernel entry function -> bytes of the kernel code it reaches (shared helpers in each)


def _placement_regions(target: Target, section: dict) -> list[str]:
    """Regions a section occupies: initialised RAM data also keeps its load image in the code region."""
    place = target.placement
    name = section["name"]
    if name.startswith(".fn_arena"):
        return [place["arena"]]
    if name.startswith(".fn_weights"):
        return [place["weights"]]
    if section["nobits"]:
        return [place["data"]]
    if section["writable"]:
        return [place["data"], place["code"]]
    return [place["code"]]


def _roots(objects: ObjectSet) -> list[SectionRef]:
    roots = [ref for ref in objects.sections if ref.section.startswith(_KEEP_SECTIONS)]
    entry = objects.symbol("Reset_Handler")
    if entry is None:
        raise FlynetError("the board's startup code defines no Reset_Handler: the calibration build is broken")
    return [entry, *roots]


def _io_sections(objects: list[dict], input_bytes: int, output_bytes: int, n_inputs: int) -> dict[tuple[str, str], str]:
    """Resize the benchmark main's test inputs and output buffer to this model; name their items."""
    named = {}
    for obj in objects:
        for symbol, size, item in (("fn_test_inputs", n_inputs * input_bytes, "test inputs"),
                                   ("output", output_bytes, "output buffer")):
            for s in obj["symbols"]:
                if s["name"] == symbol and s["bind"] == "LOCAL" and obj["path"] != MODEL_OBJECT_NAME:
                    for section in obj["sections"]:
                        if section["name"] == s["section"]:
                            section["size"] = size
                    named[(obj["path"], s["section"])] = item
    return named


def _item_name(role: str, section: dict) -> str:
    if section["name"].startswith(".fn_arena"):
        return "arena"
    if section["writable"]:
        return {"model": "model .data/.bss", "kernels": "kernel .data/.bss"}.get(role, "runtime .data/.bss")
    return {"model": "model code", "kernels": "kernels"}.get(role, "startup + runtime")


def weight_arrays(model_dir: Path) -> list[WeightArray]:
    """The generated constant arrays (model_weights.h), in link order."""
    header = (Path(model_dir) / "model_weights.h").read_text()
    arrays = []
    for ctype, name, count in _WEIGHT_DECLARATION.findall(header):
        layer = int(re.match(r"l(\d+)_", name)[1]) if re.match(r"l(\d+)_", name) else -1
        arrays.append(WeightArray(name, layer, int(count) * (1 if ctype == "int8_t" else 4)))
    return arrays


def model_defines(model_dir: Path) -> dict[str, int]:
    return {k: int(v) for k, v in _DEFINE.findall((Path(model_dir) / "model.h").read_text())}


def itemize(objects: list[dict], kernel_objects: list[str], target: Target, model_object: dict, model_dir: Path,
            n_inputs: int) -> tuple[list[Item], set[str]]:
    detail = itemize_objects(objects, kernel_objects, target, model_object, model_dir, n_inputs)
    return detail.items, detail.externals


def itemize_objects(objects: list[dict], kernel_objects: list[str], target: Target, model_object: dict, model_dir: Path,
                    n_inputs: int) -> Itemized:
    """Each region's bytes by item, for a build's parsed objects (the calibration build's, `kernel_objects` among
    them) plus this model's object and arrays."""
    import copy

    defines = model_defines(model_dir)
    model = dict(model_object, path=MODEL_OBJECT_NAME)
    objects = copy.deepcopy(objects) + [model]
    _, sample_bytes = aligned_offsets([defines[f"FLYNET_INPUT{k}_BYTES"] for k in range(defines["FLYNET_INPUT_COUNT"])])
    _, output_bytes = aligned_offsets([defines[f"FLYNET_OUTPUT{k}_BYTES"]
                                       for k in range(defines["FLYNET_OUTPUT_COUNT"])])
    io_items = _io_sections(objects, sample_bytes, output_bytes, n_inputs)
    object_set = ObjectSet(objects)
    kept, externals = object_set.reachable_sections(_roots(object_set))
    kernel_paths = set(kernel_objects)

    def role(path: str) -> str:
        return "model" if path == MODEL_OBJECT_NAME else "kernels" if path in kernel_paths else "runtime"

    groups: dict[tuple[str, str], list[dict]] = {}
    for obj in objects:  # object order, section order: as the linker reads them
        for section in obj["sections"]:
            ref = SectionRef(obj["path"], section["name"])
            if ref not in kept or section["size"] == 0:
                continue
            name = io_items.get((obj["path"], section["name"])) or _item_name(role(obj["path"]), section)
            for region in _placement_regions(target, section):
                groups.setdefault((name, region), []).append(section)
    items = [Item(name, region, packed_bytes(sections)) for (name, region), sections in groups.items()]
    arrays = weight_arrays(model_dir)
    items.append(Item("weights + biases + requant", target.placement["weights"],
                      packed_bytes([{"size": a.bytes, "align": 4} for a in arrays])))
    items.append(Item("stack (reserved)", target.placement["stack"], DEFAULT_STACK_BYTES))
    items.append(Item("heap (reserved)", target.placement["data"], DEFAULT_HEAP_BYTES))
    return Itemized(items, externals, object_set, _kernel_bytes(object_set, kept, kernel_paths))


def _kernel_bytes(objects: ObjectSet, kept: set[SectionRef], kernel_paths: set[str]) -> dict[str, int]:
    """Kernel entry points the model calls, each with the bytes of the kernel sections it reaches."""
    entries = sorted({target for ref in kept if ref.object == MODEL_OBJECT_NAME
                      for target in objects.references(ref)[0] if target.object in kernel_paths},
                     key=lambda r: (r.object, r.section))
    sizes = {}
    for entry in entries:
        reached, _ = objects.reachable_sections([entry])
        name = objects.function_of(entry) or entry.section
        sizes[name] = sum(objects.sections[r]["size"] for r in reached if r.object in kernel_paths
                          and not objects.sections[r]["writable"])
    return sizes
