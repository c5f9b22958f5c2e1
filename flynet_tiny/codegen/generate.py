"""From a `.tflite` to C sources: `model.c/.h`, `model_weights.c/.h`, `memory_plan.json`.

    generated = generate_model_sources(tflite_bytes, out_dir)
    generated.sources      # the .c files to compile with firmware/kernels/*.c
    generated.arena_bytes  # the one static arena the model runs in

Pipeline: read_tflite -> lower (one layer per op) -> fuse -> emit each layer's
kernel call -> plan memory -> write. The graph input is read in place from the
caller's buffer and the final layer writes straight into the caller's output
buffer, so neither is planned in the arena (where that is not possible, e.g. the
output is also read by a later layer, the output is planned and copied out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FlynetError
from ..reporting import atomic_write_text
from ..tflite import read_tflite
from .emit import emit_layer
from .fuse import fuse
from .graph import Layer, ModelIR, c_identifier, layer_label, lower
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
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_bytes: int
    output_bytes: int
    io_in_arena: list[str] = field(default_factory=list)


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
    ir = fuse(lower(graph), mdw_maxout=fuse_mdw, shift_max=fuse_shift_max)
    if len(ir.inputs) != 1 or len(ir.outputs) != 1:
        raise FlynetError(
            f"model has {len(ir.inputs)} inputs and {len(ir.outputs)} outputs: flynet_invoke takes exactly one of each"
        )
    if not ir.layers:
        raise FlynetError("model has no operators: export a model with at least one layer")
    return ir


def generate_model_sources(tflite_bytes: bytes, out_dir: Path | str, name: str = "model",
                           alignment: int = 16, fuse_mdw: bool = True, dsp_kernels: bool = True,
                           fuse_shift_max: bool = True) -> GeneratedModel:
    """Write the model's C sources into `out_dir`; every file is complete or untouched.
    `fuse_mdw=False` keeps MDW and its Max-out as two layers (benchmarks/bench_boards.py), `fuse_shift_max=False`
    MicroNet's Shift-Max as its MUL / ADD / MAXIMUM layers (benchmarks/kernels_bench.py).
    `dsp_kernels=False` sizes kernel scratch for builds without the DSP paths (`uses_dsp_kernels`
    of the build's --opt); the default reserves enough for either build."""
    if not name.isidentifier():
        raise FlynetError(f"model name {name!r} is not a C identifier: use letters, digits and underscores")
    out_dir = Path(out_dir)
    ir = build_ir(tflite_bytes, fuse_mdw, fuse_shift_max)
    codes = [emit_layer(ir, layer, f"l{layer.index}") for layer in ir.layers]
    scratch = [scratch_bytes(code.scratch, dsp_kernels) if code.scratch else 0 for code in codes]
    placement = place_tensors(ir, codes, scratch)
    plan = plan_memory(placement.plan_tensors, alignment=alignment)

    def pointer(t: int) -> str:
        if t in placement.external:
            return placement.external[t]
        return f"(arena + {plan.offsets[tensor_symbol(ir, t)]})"

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

    graph_in, graph_out = ir.tensor(ir.inputs[0]), ir.tensor(ir.outputs[0])
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
        "input_bytes": graph_in.nbytes,
        "output_bytes": graph_out.nbytes,
        "copy_out": pointer(placement.copy_out) if placement.copy_out is not None else None,
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
    for filename, text in files.items():
        atomic_write_text(out_dir / filename, text)

    layers = [
        GeneratedLayer(l.index, layer_names[l.index], l.kind, [op.opcode for op in l.ops], code.summary,
                       sum(ir.tensor(t).nbytes for t in l.outputs), size)
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
        input_shape=graph_in.shape,
        output_shape=graph_out.shape,
        input_bytes=graph_in.nbytes,
        output_bytes=graph_out.nbytes,
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
    return data


def layer_checksum(data: bytes | np.ndarray) -> int:
    """FNV-1a over a layer's output bytes, the same sum the generated C keeps with FLYNET_LAYER_CHECKSUMS."""
    h = 0x811C9DC5
    for byte in np.asarray(data).astype(np.int8).view(np.uint8).reshape(-1).tolist():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


__all__ = ["GeneratedLayer", "GeneratedModel", "build_ir", "generate_model_sources", "layer_checksum",
           "layer_label", "Layer"]
