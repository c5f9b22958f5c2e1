"""Where each activation tensor lives: in the caller's input / output buffers, or at a block of the arena.

A layer that writes a model output writes straight into the caller's buffer (`output0`, ...), so the
outputs are not planned in the arena (where that is not possible, e.g. the output is also read by a
later layer or is a view, it is planned and copied out after the last layer); with `outputs_in_arena`
every output is planned in the arena, where it may be written over the tensor it is computed from, and
flynet_invoke copies it out unless the caller reads it in place (flynet_output_buffer(i)). Every model input is read
in place from the caller's buffer (`input0`, `input1`, ...), or, with `inputs_in_arena`, planned in the
arena like any tensor (flynet_invoke copies it there unless the caller wrote it there, at
flynet_input_buffer(i)), where the first layers may write over it. Views (RESHAPE) share their input's
block. A layer whose kernel's access order allows it (`LayerCode.overlap`) may write its output over an
input no later layer reads: at the same bytes where the safe offset is 0 (elementwise ops, Max-out:
always taken), else as an option starting that many bytes below the input (convs, depthwise, pooling),
which the planner (`planner.py`) takes where it makes the arena smaller when it gives the arena tensors
their offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import ModelIR, c_identifier
from .layer_code import LayerCode
from .overlap import safe_offset
from .planner import OverlapOption, PlanTensor


def tensor_symbol(ir: ModelIR, index: int) -> str:
    return c_identifier(ir.tensor(index).name) + f"_{index}"


def input_buffer(position: int) -> str:
    return f"input{position}"


def output_buffer(position: int) -> str:
    return f"output{position}"


@dataclass
class Placement:
    """Where each activation tensor lives: the arena (a plan tensor) or the caller's buffers."""

    plan_tensors: list[PlanTensor]
    external: dict[int, str]                 # tensor -> the caller's buffer it lives in: "input0", "output1", ...
    copy_out: list[tuple[str, int]]          # (output buffer, tensor) copied after the last layer


def place_tensors(ir: ModelIR, codes: list[LayerCode], scratch: list[int], alignment: int = 16,
                  dsp_kernels: bool = True, inputs_in_arena: bool = False, overlaps: bool = True,
                  outputs_in_arena: bool = False) -> Placement:
    """`dsp_kernels`: the build may take the kernels' DSP paths, whose access orders an overlap must suit too.
    `overlaps=False`: only the in-place outputs (offset 0), as plans were before overlaps (benchmarks)."""
    producers = ir.producers()
    consumers = ir.consumers()
    end = len(ir.layers)  # the copy-out step, after the last layer
    last_use = {t: max(l.index for l in users) for t, users in consumers.items()}

    external: dict[int, str] = {}
    for position, t in enumerate(ir.inputs):
        if not inputs_in_arena:
            external.setdefault(t, input_buffer(position))
    # Views of an input stay in the caller's buffer too.
    for layer, code in zip(ir.layers, codes):
        if code.view and external.get(layer.inputs[0], "").startswith("input"):
            external[layer.outputs[0]] = external[layer.inputs[0]]
    copy_out: list[tuple[str, int]] = []
    for position, t in enumerate(ir.outputs):
        layer = producers.get(t)
        if (not outputs_in_arena and t not in external and layer is not None and not codes[layer.index].view
                and t not in consumers):
            external[t] = output_buffer(position)
        else:
            copy_out.append((output_buffer(position), t))
    copied = {t for _, t in copy_out}

    tensors: dict[int, PlanTensor] = {}
    root: dict[int, int] = {}  # tensor -> the tensor whose block it lives in
    block_last: dict[int, int] = {}

    def lifetime_end(t: int) -> int:
        return end if t in copied else last_use.get(t, producers[t].index if t in producers else 0)

    for t in ir.inputs if inputs_in_arena else ():  # written before the first layer runs
        tensors[t] = PlanTensor(tensor_symbol(ir, t), ir.tensor(t).nbytes, 0, lifetime_end(t))
        root[t] = t
        block_last[t] = lifetime_end(t)

    for layer, code in zip(ir.layers, codes):
        for out in layer.outputs:
            if out in external:
                continue
            alias, option = None, None
            if code.view and layer.inputs[0] not in external:
                alias = layer.inputs[0]
            elif code.overlap is not None and len(layer.outputs) == 1:
                source = layer.inputs[code.overlap.input]
                if _overwritable(layer, source, external, copied, root, block_last):
                    d = safe_offset(code.overlap, ir.tensor(source).nbytes, ir.tensor(out).nbytes, alignment,
                                    dsp_kernels)
                    if d == 0 and ir.tensor(out).nbytes <= ir.tensor(source).nbytes:
                        alias = source
                    elif d is not None and overlaps:
                        option = OverlapOption(tensor_symbol(ir, source), d, code.overlap.reason)
            first, last = layer.index, lifetime_end(out)
            tensors[out] = PlanTensor(tensor_symbol(ir, out), ir.tensor(out).nbytes, first, last,
                                      alias_of=tensor_symbol(ir, alias) if alias is not None else None,
                                      overlap=option)
            root[out] = root[alias] if alias is not None else out
            block_last[root[out]] = max(block_last.get(root[out], -1), last)
    plan_tensors = list(tensors.values())
    for layer, size in zip(ir.layers, scratch):
        if size:
            plan_tensors.append(PlanTensor(f"scratch_{layer.index}", size, layer.index, layer.index, kind="scratch"))
    return Placement(plan_tensors, external, copy_out)


def _overwritable(layer, source: int, external: dict[int, str], copied: set[int], root: dict[int, int],
                  block_last: dict[int, int]) -> bool:
    """Whether the layer may write over `source`: an arena buffer that no one reads after this layer (all its
    views included) and that the layer reads through no other input."""
    if source in external or source in copied or block_last[root[source]] != layer.index:
        return False
    return all(root.get(t) != root[source] for t in layer.inputs if t != source) and layer.inputs.count(source) == 1
