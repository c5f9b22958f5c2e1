"""From a `.tflite` to C sources: `model.c/.h`, `model_weights.c/.h`, `memory_plan.json`.

    generated = generate_model_sources(tflite_bytes, out_dir)
    generated.sources      # the .c files to compile with firmware/kernels/*.c
    generated.arena_bytes  # the one static arena the model runs in

Pipeline: read_tflite -> lower (one layer per op) -> fold constants (`fold.py`) -> check every op
and type is supported -> fuse -> emit each layer's kernel call -> place and plan memory -> write.
`flynet_invoke` takes one pointer per model input and output (`model.h` names each tensor with its
type, shape and quantization); a layer writing a model output writes into the caller's buffer, and the
inputs are read in place from the caller's buffers or copied into their arena slots (`placement.py`).
Between emitting and writing, the layer order is chosen (`layer_order.py`) and outputs are planned
over the inputs they read (`overlap.py`, `planner.py`) for the smallest arena.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FlynetError
from ..reporting import atomic_write_files
from ..tflite import read_tflite
from .emit import emit_layer
from .fold import fold_constants
from .fuse import fuse
from .graph import Layer, ModelIR, c_identifier, check_supported, layer_label, lower
from .layer_code import LayerCode
from .layer_order import best_order, layer_costs, reordered
from .placement import Placement, place_tensors, tensor_symbol
from .planner import MemoryPlan, plan_memory
from .scratch import scratch_bytes
from .write_c import render_header, render_model_c, render_weights_c, render_weights_h

EXTERNAL = -1  # offset marker for tensors living in the caller's input / output buffers


@dataclass
class GeneratedLayer:
    index: int
    name: str
    kind: str
    tflite_ops: list[str]
    summary: str
    output_bytes: int
    scratch_bytes: int
    view: bool = False          # no kernel call: the output is the input's bytes (RESHAPE, an identity)


@dataclass(frozen=True)
class ModelTensor:
    """A model input or output as the caller's buffer holds it (NHWC, `dtype` elements). For a float32
    tensor, `scale` / `zero_point` are those of the int8 tensor its QUANTIZE / DEQUANTIZE converts."""

    name: str
    shape: tuple[int, ...]
    dtype: str            # "int8", "uint8" or "float32"
    scale: float | None
    zero_point: int | None
    nbytes: int

    @property
    def ctype(self) -> str:
        return C_TYPES[self.dtype]


C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "float32": "float"}


@dataclass
class GeneratedModel:
    out_dir: Path
    name: str
    header: Path
    sources: list[Path]
    plan_json: Path
    layers: list[GeneratedLayer]
    plan: MemoryPlan
    arena_bytes: int
    weight_bytes: int
    inputs: list[ModelTensor]
    outputs: list[ModelTensor]
    inputs_in_arena: bool = False                    # the inputs have arena slots (flynet_input_buffer)
    outputs_in_arena: bool = False                   # the outputs have arena slots (flynet_output_buffer)
    ir: ModelIR | None = None                        # what was generated from, for tools that check the plan
    codes: list[LayerCode] = field(default_factory=list)
    placement: Placement | None = None

    @property
    def ram_bytes(self) -> int:
        """What the model needs in RAM: the arena and the caller's I/O buffers (TFLM's arena holds them all)."""
        caller_inputs = 0 if self.inputs_in_arena else sum(t.nbytes for t in self.inputs)
        caller_outputs = 0 if self.outputs_in_arena else sum(t.nbytes for t in self.outputs)
        return self.arena_bytes + caller_inputs + caller_outputs

    def _only(self, tensors: list[ModelTensor], what: str) -> ModelTensor:
        if len(tensors) != 1:
            raise FlynetError(f"the model has {len(tensors)} {what}s: use GeneratedModel.{what}s")
        return tensors[0]

    # The one input / output of a single-input, single-output model.
    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._only(self.inputs, "input").shape

    @property
    def input_bytes(self) -> int:
        return self._only(self.inputs, "input").nbytes

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self._only(self.outputs, "output").shape

    @property
    def output_bytes(self) -> int:
        return self._only(self.outputs, "output").nbytes


def _guard_scratch(text: str, query, planned: int) -> str:
    """Ask the target's kernel for its scratch size before the call: a kernel build that wants more
    than was planned fails with FN_ERR_ARGUMENT, naming the layer, instead of overrunning the arena."""
    lines = text.split("\n")
    split = next(i for i, line in enumerate(lines) if not line.startswith("static "))
    return "\n".join([
        *lines[:split],
        f"if ({query.function}({query.c_args}) > {planned}) {{",
        "    status = FN_ERR_ARGUMENT;",
        "} else {",
        *("    " + line for line in lines[split:]),
        "}",
    ])


def build_ir(tflite_bytes: bytes, fuse_mdw: bool = True, fuse_shift_max: bool = True) -> ModelIR:
    graph = read_tflite(tflite_bytes)
    ir = fuse(check_supported(fold_constants(lower(graph))), mdw_maxout=fuse_mdw, shift_max=fuse_shift_max)
    if not ir.layers:
        raise FlynetError("model has no operators left to run: export a model with at least one layer")
    return ir


def model_tensor(ir: ModelIR, index: int) -> ModelTensor:
    """How a model input or output looks to the caller; a float32 edge takes its QUANTIZE /
    DEQUANTIZE partner's quantization, so the header says how the model converts it."""
    tensor, quantized = ir.tensor(index), ir.graph.edge_quantization(index)
    if tensor.dtype not in C_TYPES:
        raise FlynetError(f"model tensor {tensor.name!r} is {tensor.dtype}: model inputs and outputs must be "
                          f"{', '.join(C_TYPES)}")
    has_scale = quantized.scale is not None
    return ModelTensor(tensor.name, tuple(tensor.shape), tensor.dtype,
                       float(quantized.scale[0]) if has_scale else None,
                       int(quantized.zero_point[0]) if has_scale else None, tensor.nbytes)


_POINTER_CASTS = {"int8": "", "uint8": "(uint8_t *)", "float32": "(float *)"}


IO_PLACEMENTS = ("auto", "arena", "caller")


@dataclass
class _Layout:
    ir: ModelIR
    codes: list[LayerCode]
    scratch: list[int]
    placement: Placement
    plan: MemoryPlan

    @property
    def inputs_in_arena(self) -> bool:
        return all(t not in self.placement.external for t in self.ir.inputs)

    @property
    def outputs_in_arena(self) -> bool:
        return all(t not in self.placement.external for t in self.ir.outputs)

    @property
    def ram_bytes(self) -> int:
        """The arena and the caller's buffers of the inputs and outputs that live there."""
        caller = 0 if self.inputs_in_arena else sum(self.ir.tensor(t).nbytes for t in set(self.ir.inputs))
        caller += 0 if self.outputs_in_arena else sum(self.ir.tensor(t).nbytes for t in self.ir.outputs)
        return self.plan.arena_bytes + caller


@dataclass(frozen=True)
class _Options:
    alignment: int
    dsp_kernels: bool
    reorder: bool          # choose the layer order (else the converter's)
    input_placement: str   # IO_PLACEMENTS
    output_placement: str  # IO_PLACEMENTS
    overlaps: bool         # outputs may start below the input they read (else only in place)


def _layout(ir: ModelIR, options: _Options, inputs_in_arena: bool, outputs_in_arena: bool) -> _Layout:
    """Each layer's code and scratch, where its tensors live, and the memory plan, for the IR's layer order."""
    alignment, dsp_kernels = options.alignment, options.dsp_kernels
    codes = [emit_layer(ir, layer, f"l{layer.index}") for layer in ir.layers]
    scratch = [scratch_bytes(code.scratch, dsp_kernels) if code.scratch else 0 for code in codes]
    placement = place_tensors(ir, codes, scratch, alignment, dsp_kernels, inputs_in_arena, options.overlaps,
                              outputs_in_arena)
    return _Layout(ir, codes, scratch, placement, plan_memory(placement.plan_tensors, alignment=alignment))


def _ordered_layout(ir: ModelIR, options: _Options, inputs_in_arena: bool, outputs_in_arena: bool) -> _Layout:
    """The layout in the layer order that keeps the fewest bytes alive (`layer_order.py`), where its plan's
    arena is smaller than the converter's order gives; else (or with `reorder` off) the converter's order."""
    layout = _layout(ir, options, inputs_in_arena, outputs_in_arena)
    if not options.reorder:
        return layout
    external = set(layout.placement.external)
    costs = layer_costs(ir, layout.codes, layout.scratch, external, options.alignment, options.dsp_kernels,
                        options.overlaps)
    arena = {t: ir.tensor(t).nbytes for layer in ir.layers for t in (*layer.inputs, *layer.outputs)
             if t not in external}
    order = best_order(ir, costs, {i for i, code in enumerate(layout.codes) if code.view}, arena,
                       {t for _, t in layout.placement.copy_out})
    if order == list(range(len(ir.layers))):
        return layout
    other = _layout(reordered(ir, order), options, inputs_in_arena, outputs_in_arena)
    return other if other.plan.arena_bytes < layout.plan.arena_bytes else layout


def _best_layout(ir: ModelIR, options: _Options) -> _Layout:
    """`input_placement`: "caller" reads the inputs in the caller's buffers, "arena" plans them in the arena,
    "auto" takes the one whose arena plus caller's buffers is smaller (the caller's buffers on a tie); then
    `output_placement` the same way for the outputs, with the inputs where they were best."""
    for what, value in (("input", options.input_placement), ("output", options.output_placement)):
        if value not in IO_PLACEMENTS:
            raise FlynetError(f"{what} placement {value!r}: use one of {', '.join(IO_PLACEMENTS)}")
    choices = {"auto": (False, True), "arena": (True,), "caller": (False,)}
    outputs_first = choices[options.output_placement][0]
    layouts = [_ordered_layout(ir, options, in_arena, outputs_first) for in_arena in choices[options.input_placement]]
    best = min(layouts, key=lambda layout: layout.ram_bytes)
    for out_arena in choices[options.output_placement][1:]:
        layouts.append(_ordered_layout(ir, options, best.inputs_in_arena, out_arena))
    return min(layouts, key=lambda layout: layout.ram_bytes)


def generate_model_sources(tflite_bytes: bytes, out_dir: Path | str, name: str = "model",
                           alignment: int = 16, fuse_mdw: bool = True, dsp_kernels: bool = True,
                           reorder_layers: bool = True, input_placement: str = "auto",
                           overlap_outputs: bool = True, fuse_shift_max: bool = True,
                           output_placement: str = "auto") -> GeneratedModel:
    """Write the model's C sources into `out_dir`; every file is complete or untouched.
    `fuse_mdw=False` keeps MDW and its Max-out as two layers (benchmarks/bench_boards.py), `fuse_shift_max=False`
    MicroNet's Shift-Max as its MUL / ADD / MAXIMUM layers (benchmarks/kernels_bench.py).
    `dsp_kernels=False` sizes kernel scratch for builds without the DSP paths (`uses_dsp_kernels`
    of the build's --opt); the default reserves enough for either build. `reorder_layers=False` keeps the
    converter's operator order (benchmarks compare the two). `input_placement`: where the model inputs
    live, the caller's buffers or the arena ("auto": the smaller arena + input buffers); `output_placement`
    the same for the outputs (in the arena, the caller may read them there: flynet_output_buffer).
    `overlap_outputs=False` writes outputs over their inputs only in place (benchmarks)."""
    if not name.isidentifier():
        raise FlynetError(f"model name {name!r} is not a C identifier: use letters, digits and underscores")
    out_dir = Path(out_dir)
    layout = _best_layout(build_ir(tflite_bytes, fuse_mdw, fuse_shift_max),
                          _Options(alignment, dsp_kernels, reorder_layers, input_placement, output_placement,
                                   overlap_outputs))
    ir, codes, scratch, placement, plan = layout.ir, layout.codes, layout.scratch, layout.placement, layout.plan

    def pointer(t: int) -> str:
        if t in placement.external:
            return placement.external[t]
        address = f"(arena + {plan.offsets[tensor_symbol(ir, t)]})"
        cast = _POINTER_CASTS[ir.tensor(t).dtype]
        return f"({cast}{address})" if cast else address

    layer_names = [c_identifier(ir.tensor(l.outputs[0]).name, 60) for l in ir.layers]
    bodies = []
    for layer, code, size in zip(ir.layers, codes, scratch):
        text = "\n".join(code.statements)
        for position, t in enumerate(layer.inputs):
            text = text.replace(f"@IN{position}@", pointer(t))
        for position, t in enumerate(layer.outputs):
            text = text.replace(f"@OUT{position}@", pointer(t))
        text = text.replace("@SCRATCH@", f"(arena + {plan.offsets[f'scratch_{layer.index}']})" if size else "NULL")
        if code.scratch is not None:
            text = _guard_scratch(text, code.scratch, size)
        bodies.append(text)

    inputs = [model_tensor(ir, t) for t in ir.inputs]
    outputs = [model_tensor(ir, t) for t in ir.outputs]
    arrays = [array for code in codes for array in code.arrays]
    context = {
        "name": name,
        "description": ir.graph.description,
        "ir": ir,
        "codes": codes,
        "bodies": bodies,
        "layer_names": layer_names,
        "scratch": scratch,
        "scratch_offsets": {l.index: plan.offsets.get(f"scratch_{l.index}") for l in ir.layers},
        "pointer": pointer,
        "arena_bytes": plan.arena_bytes,
        "inputs": inputs,
        "outputs": outputs,
        "copy_out": [(buffer, pointer(t)) for buffer, t in placement.copy_out],
        "input_slots": [pointer(t) if t not in placement.external else None for t in ir.inputs],
        "output_slots": [pointer(t) if t not in placement.external else None for t in ir.outputs],
        "arrays": arrays,
        "plan": plan,
    }
    files = {
        f"{name}.h": render_header(context),
        f"{name}.c": render_model_c(context),
        f"{name}_weights.h": render_weights_h(context),
        f"{name}_weights.c": render_weights_c(context),
        "memory_plan.json": json.dumps(memory_plan_json(ir, plan, placement, layer_names), indent=2) + "\n",
    }
    atomic_write_files(out_dir, files)  # all five or none

    layers = [
        GeneratedLayer(l.index, layer_names[l.index], l.kind, [op.opcode for op in l.ops], code.summary,
                       sum(ir.tensor(t).nbytes for t in l.outputs), size, code.view)
        for l, code, size in zip(ir.layers, codes, scratch)
    ]
    return GeneratedModel(
        out_dir=out_dir,
        name=name,
        header=out_dir / f"{name}.h",
        sources=[out_dir / f"{name}.c", out_dir / f"{name}_weights.c"],
        plan_json=out_dir / "memory_plan.json",
        layers=layers,
        plan=plan,
        arena_bytes=plan.arena_bytes,
        weight_bytes=sum(a.nbytes for a in arrays),
        inputs=inputs,
        outputs=outputs,
        inputs_in_arena=layout.inputs_in_arena,
        outputs_in_arena=layout.outputs_in_arena,
        ir=ir,
        codes=codes,
        placement=placement,
    )


def memory_plan_json(ir: ModelIR, plan: MemoryPlan, placement: Placement, layer_names: list[str]) -> dict:
    data = plan.to_json()
    data["layers"] = [
        {"index": l.index, "name": layer_names[l.index], "kind": l.kind, "tflite_ops": [op.index for op in l.ops]}
        for l in ir.layers
    ]
    data["external"] = [
        {"name": tensor_symbol(ir, t), "buffer": where, "size": ir.tensor(t).nbytes}
        for t, where in sorted(placement.external.items())
    ]
    data["inputs_in_arena"] = all(t not in placement.external for t in ir.inputs)
    data["outputs_in_arena"] = all(t not in placement.external for t in ir.outputs)
    return data


def layer_checksum(data: bytes | np.ndarray) -> int:
    """FNV-1a over a layer's output bytes, the same sum the generated C keeps with FLYNET_LAYER_CHECKSUMS
    (integer arrays are taken as int8 values, float32 ones as their bytes)."""
    array = np.asarray(data)
    raw = array.astype(np.int8) if np.issubdtype(array.dtype, np.integer) and array.dtype != np.uint8 else array
    h = 0x811C9DC5
    for byte in np.ascontiguousarray(raw).view(np.uint8).reshape(-1).tolist():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


__all__ = ["GeneratedLayer", "GeneratedModel", "ModelTensor", "build_ir", "generate_model_sources", "layer_checksum",
           "layer_label", "Layer"]
