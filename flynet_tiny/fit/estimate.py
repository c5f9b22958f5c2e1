"""The pre-build estimate: what a model's firmware puts in each memory region of a board.

    estimate = estimate_from_tflite(tflite_bytes, load_target("f446re"))
    estimate.regions        # used / size per region (FLASH, SRAM, or DTCM / SRAM1 / ... on the F746ZG)
    estimate.items          # what makes up each region's use
    estimate.fits()         # every region within its size and the deepest call chain within the stack

How each part is known:
- arena: the code generator's own plan (`generate_model_sources`, codegen/planner.py), so it is
  the firmware's FLYNET_ARENA_BYTES by construction;
- weights, biases, requantization arrays: the generated arrays, 4-byte aligned as linked;
- model code: the generated model.c compiled with the firmware's flags (a fraction of a second);
- kernels: the kernel sections the model's calls reach, as --gc-sections would keep them, from
  the kernel objects of the board's calibration build (fit/calibration.py);
- I/O: the benchmark firmware's embedded test inputs (flash) and output buffer (RAM);
- stack: the linker script's reservation, and the deepest call chain from -fstack-usage;
- the rest (startup code, newlib, alignment): measured once per board by the calibration build,
  plus the libc / libgcc members this model's kernels need beyond it.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..build.firmware import DEFAULT_HEAP_BYTES, DEFAULT_STACK_BYTES
from ..errors import FlynetError
from ..targets import Target
from .calibration import Calibration, load_calibration, run_compile
from .libraries import extra_library_bytes
from .objects import ObjectSet, SectionRef, StackChain, packed_bytes, parse_object

_WEIGHT_DECLARATION = re.compile(r"^extern const (int8_t|int32_t) (\w+)\[(\d+)\];", re.M)
_DEFINE = re.compile(r"^#define (FLYNET_\w+) (\d+)", re.M)
_KEEP_SECTIONS = (".isr_vector", ".init_array", ".fini_array", ".preinit_array", ".init", ".fini")
MODEL_OBJECT_NAME = "model.o"
# Names as the report prints them, in this order.
ITEM_ORDER = ["weights + biases + requant", "model code", "kernels", "test inputs", "startup + runtime",
              "libc / libgcc beyond calibration", "newlib + startup (calibrated)", "arena", "stack (reserved)",
              "heap (reserved)", "output buffer", "model .data/.bss", "kernel .data/.bss", "runtime .data/.bss"]


@dataclass(frozen=True)
class Item:
    name: str
    region: str
    bytes: int


@dataclass(frozen=True)
class RegionUse:
    name: str
    used: int
    size: int

    @property
    def headroom(self) -> int:
        return self.size - self.used

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.size if self.size else 0.0


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


@dataclass
class FitEstimate:
    target: Target
    opt: str
    source: str
    items: list[Item]
    regions: list[RegionUse]
    arena_bytes: int
    weight_bytes: int
    weights: list[WeightArray]
    layers: list                         # codegen GeneratedLayer, in order
    plan: object                         # codegen MemoryPlan
    stack: StackChain
    stack_reserved: int
    kernels: dict[str, int]
    library_extra: list[str]
    input_bytes: int
    output_bytes: int
    tflm_arena: dict | None = None
    notes: list[str] = field(default_factory=list)

    def region(self, name: str) -> RegionUse:
        return next(r for r in self.regions if r.name == name)

    def fits(self, margin: float = 0.0) -> bool:
        """Every region within (1 - margin) of its size, and the deepest measured stack within its reservation."""
        return all(r.used <= r.size * (1 - margin) for r in self.regions) and self.stack.bytes <= self.stack_reserved

    def problems(self, margin: float = 0.0) -> list[str]:
        out = [f"{r.name} needs {r.used:,} bytes of {r.size:,} (over by {r.used - r.size:,})"
               for r in self.regions if r.used > r.size]
        if margin:
            out += [f"{r.name} at {r.percent:.1f}% is within the {100 * margin:g}% safety margin"
                    for r in self.regions if r.size * (1 - margin) < r.used <= r.size]
        if self.stack.bytes > self.stack_reserved:
            out.append(f"deepest call chain needs {self.stack.bytes:,} bytes of stack, {self.stack_reserved:,} reserved")
        return out


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


def itemize(cal: Calibration, target: Target, model_object: dict, model_dir: Path, n_inputs: int) -> tuple[list[Item], set[str]]:
    detail = itemize_objects(cal, target, model_object, model_dir, n_inputs)
    return detail.items, detail.externals


def itemize_objects(cal: Calibration, target: Target, model_object: dict, model_dir: Path, n_inputs: int) -> Itemized:
    """Each region's bytes by item, for the calibration objects plus this model's object and arrays."""
    import copy

    defines = model_defines(model_dir)
    model = dict(model_object, path=MODEL_OBJECT_NAME)
    objects = copy.deepcopy(cal.objects) + [model]
    io_items = _io_sections(objects, defines["FLYNET_INPUT_BYTES"], defines["FLYNET_OUTPUT_BYTES"], n_inputs)
    object_set = ObjectSet(objects)
    kept, externals = object_set.reachable_sections(_roots(object_set))
    kernel_paths = set(cal.kernel_objects)

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


def compile_model_object(cal: Calibration, model_dir: Path, work: Path) -> dict:
    """Compile the generated model.c with the calibration build's exact command (plus -fstack-usage)."""
    layout = work / "layout"
    (layout / "obj").mkdir(parents=True, exist_ok=True)
    link = layout / "model"
    if not link.exists():
        link.symlink_to(Path(model_dir).resolve(), target_is_directory=True)
    run_compile(f"{cal.model_compile} -fstack-usage", layout)
    obj = next((layout / "obj").glob("*.o"))
    return parse_object(obj)


def estimate_from_generated(generated, target: Target, opt: str = "size", n_inputs: int = 1, source: str = "",
                            progress=lambda message: None) -> FitEstimate:
    """The estimate for C already generated by `generate_model_sources` (its out_dir holds model.c)."""
    cal = load_calibration(target, opt, progress)
    with tempfile.TemporaryDirectory(prefix="flynet-fit-") as work:
        model_object = compile_model_object(cal, generated.out_dir, Path(work))
        detail = itemize_objects(cal, target, model_object, generated.out_dir, n_inputs)
        arrays = weight_arrays(generated.out_dir)
    items = list(detail.items)
    extra, members = extra_library_bytes(cal.library, detail.externals, set(cal.library_names))
    if extra:
        items.append(Item("libc / libgcc beyond calibration", target.placement["code"], extra))
    for region, rest in cal.rest.items():
        if rest:
            items.append(Item("newlib + startup (calibrated)", region, rest))
    items.sort(key=lambda i: (ITEM_ORDER.index(i.name) if i.name in ITEM_ORDER else len(ITEM_ORDER), i.region))
    used = {}
    for item in items:
        used[item.region] = used.get(item.region, 0) + item.bytes
    regions = [RegionUse(m.name, used.get(m.name, 0), m.length) for m in target.memory
               if m.name in used or m.kind == "flash"]
    return FitEstimate(
        target=target, opt=opt, source=source, items=items, regions=regions,
        arena_bytes=generated.arena_bytes, weight_bytes=sum(a.bytes for a in arrays), weights=arrays,
        layers=list(generated.layers), plan=generated.plan, stack=detail.objects.deepest_stack("Reset_Handler"),
        stack_reserved=DEFAULT_STACK_BYTES, kernels=detail.kernels, library_extra=members,
        input_bytes=generated.input_bytes, output_bytes=generated.output_bytes)


def estimate_from_tflite(tflite_bytes: bytes, target: Target, opt: str = "size", n_inputs: int = 1,
                         source: str = "", tflm: bool = True, progress=lambda message: None) -> FitEstimate:
    """Generate the model's C into a temporary folder (the real generator and planner) and estimate it."""
    from ..build.firmware import uses_dsp_kernels
    from ..codegen.generate import generate_model_sources

    with tempfile.TemporaryDirectory(prefix="flynet-fit-") as folder:
        progress("generating C and planning the arena ...")
        generated = generate_model_sources(tflite_bytes, Path(folder) / "model", dsp_kernels=uses_dsp_kernels(opt))
        progress("compiling model.c for the code size ...")
        estimate = estimate_from_generated(generated, target, opt, n_inputs, source, progress)
    if tflm:
        from ..tflite.interpreters import tflm_arena_bytes

        progress("measuring TFLite Micro's arena ...")
        estimate.tflm_arena = tflm_arena_bytes(tflite_bytes)
    return estimate
