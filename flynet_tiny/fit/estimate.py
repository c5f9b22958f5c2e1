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

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..build.options import DEFAULT_STACK_BYTES
from ..targets import Target
from .calibration import Calibration, load_calibration, run_compile
from .itemize import Item, WeightArray, itemize_objects, weight_arrays
from .libraries import extra_library_bytes
from .objects import StackChain, parse_object

# Names as the report prints them, in this order.
ITEM_ORDER = ["weights + biases + requant", "model code", "kernels", "test inputs", "startup + runtime",
              "libc / libgcc beyond calibration", "newlib + startup (calibrated)", "arena", "stack (reserved)",
              "heap (reserved)", "output buffer", "model .data/.bss", "kernel .data/.bss", "runtime .data/.bss"]


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


def compile_model_object(cal: Calibration, model_dir: Path, work: Path) -> dict:
    """Compile the generated model.c with the calibration build's exact command (plus -fstack-usage)."""
    layout = work / "layout"
    (layout / "obj").mkdir(parents=True, exist_ok=True)
    link = layout / "model"
    if not link.exists():
        link.symlink_to(Path(model_dir).resolve(), target_is_directory=True)
    # The command's include folders (kernels/, runtime/, boards/, bench/) are relative: the calibration's copies.
    for entry in cal.folder.iterdir():
        if entry.is_dir() and entry.name not in ("model", "obj") and not (layout / entry.name).exists():
            (layout / entry.name).symlink_to(entry, target_is_directory=True)
    run_compile(f"{cal.model_compile} -fstack-usage", layout)
    obj = next((layout / "obj").glob("*.o"))
    return parse_object(obj)


def estimate_from_generated(generated, target: Target, opt: str = "size", n_inputs: int = 1, source: str = "",
                            progress=lambda message: None) -> FitEstimate:
    """The estimate for C already generated by `generate_model_sources` (its out_dir holds model.c)."""
    cal = load_calibration(target, opt, progress)
    with tempfile.TemporaryDirectory(prefix="flynet-fit-") as work:
        model_object = compile_model_object(cal, generated.out_dir, Path(work))
        detail = itemize_objects(cal.objects, cal.kernel_objects, target, model_object, generated.out_dir, n_inputs)
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
        input_bytes=sum(t.nbytes for t in generated.inputs), output_bytes=sum(t.nbytes for t in generated.outputs))


def estimate_from_tflite(tflite_bytes: bytes, target: Target, opt: str = "size", n_inputs: int = 1,
                         source: str = "", tflm: bool = True, progress=lambda message: None) -> FitEstimate:
    """Generate the model's C into a temporary folder (the real generator and planner) and estimate it."""
    from ..build.options import uses_dsp_kernels
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
