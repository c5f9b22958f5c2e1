"""Where each activation tensor lives: in the caller's input / output buffers, or at a block of the arena.

Every model input is read in place from the caller's buffer (`input0`, `input1`, ...) and a layer that
writes a model output writes straight into the caller's buffer (`output0`, ...), so neither is planned
in the arena (where that is not possible, e.g. the output is also read by a later layer or is a view,
it is planned and copied out after the last layer). Views (RESHAPE) share their input's block, and a
layer whose kernel allows it overwrites an input no later layer reads. The planner (`planner.py`) then
gives the arena tensors their offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import ModelIR, c_identifier
from .layer_code import LayerCode
from .planner import PlanTensor


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


def place_tensors(ir: ModelIR, codes: list[LayerCode], scratch: list[int]) -> Placement:
    producers = ir.producers()
    consumers = ir.consumers()
    end = len(ir.layers)  # the copy-out step, after the last layer
    last_use = {t: max(l.index for l in users) for t, users in consumers.items()}

    external: dict[int, str] = {}
    for position, t in enumerate(ir.inputs):
        external.setdefault(t, input_buffer(position))
    # Views of an input stay in the caller's buffer too.
    for layer, code in zip(ir.layers, codes):
        if code.view and external.get(layer.inputs[0], "").startswith("input"):
            external[layer.outputs[0]] = external[layer.inputs[0]]
    copy_out: list[tuple[str, int]] = []
    for position, t in enumerate(ir.outputs):
        layer = producers.get(t)
        if t not in external and layer is not None and not codes[layer.index].view and t not in consumers:
            external[t] = output_buffer(position)
        else:
            copy_out.append((output_buffer(position), t))
    copied = {t for _, t in copy_out}

    tensors: dict[int, PlanTensor] = {}
    root: dict[int, int] = {}  # tensor -> the tensor whose block it lives in
    block_last: dict[int, int] = {}

    def lifetime_end(t: int) -> int:
        return end if t in copied else last_use.get(t, producers[t].index)

    for layer, code in zip(ir.layers, codes):
        for out in layer.outputs:
            if out in external:
                continue
            alias = None
            if code.view and layer.inputs[0] not in external:
                alias = layer.inputs[0]
            elif code.inplace_input is not None:
                source = layer.inputs[code.inplace_input]
                # Overwrite only a buffer no one reads after this layer (all its views included).
                if source not in external and source not in copied and block_last[root[source]] == layer.index:
                    alias = source
            first, last = layer.index, lifetime_end(out)
            tensors[out] = PlanTensor(tensor_symbol(ir, out), ir.tensor(out).nbytes, first, last,
                                      alias_of=tensor_symbol(ir, alias) if alias is not None else None)
            root[out] = root[alias] if alias is not None else out
            block_last[root[out]] = max(block_last.get(root[out], -1), last)
    plan_tensors = list(tensors.values())
    for layer, size in zip(ir.layers, scratch):
        if size:
            plan_tensors.append(PlanTensor(f"scratch_{layer.index}", size, layer.index, layer.index, kind="scratch"))
    return Placement(plan_tensors, external, copy_out)
