"""Where each activation tensor lives: in the caller's input / output buffers, or at a block of the arena.

The final layer writes straight into the caller's output buffer, so the output is not planned in the
arena (where that is not possible, e.g. the output is also read by a later layer, it is planned and
copied out). The graph input is read in place from the caller's buffer, or, with `input_in_arena`,
planned in the arena like any tensor (flynet_invoke copies it there unless the caller wrote it there,
at flynet_input_buffer()), where the first layers may write over it. Views (RESHAPE) share
their input's block. A layer whose kernel's access order allows it (`LayerCode.overlap`) may write its
output over an input no later layer reads: at the same bytes where the safe offset is 0 (elementwise
ops, Max-out: always taken), else as an option starting that many bytes below the input (convs,
depthwise, pooling), which the planner (`planner.py`) takes where it makes the arena smaller when it
gives the arena tensors their offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import ModelIR, c_identifier
from .layer_code import LayerCode
from .overlap import safe_offset
from .planner import OverlapOption, PlanTensor


def tensor_symbol(ir: ModelIR, index: int) -> str:
    return c_identifier(ir.tensor(index).name) + f"_{index}"


@dataclass
class Placement:
    """Where each activation tensor lives: the arena (a plan tensor) or the caller's buffers."""

    plan_tensors: list[PlanTensor]
    external: dict[int, str]                 # tensor -> "input" / "output"
    copy_out: int | None                     # tensor copied into `output` after the last layer


def place_tensors(ir: ModelIR, codes: list[LayerCode], scratch: list[int], alignment: int = 16,
                  dsp_kernels: bool = True, input_in_arena: bool = False, overlaps: bool = True) -> Placement:
    """`dsp_kernels`: the build may take the kernels' DSP paths, whose access orders an overlap must suit too.
    `overlaps=False`: only the in-place outputs (offset 0), as plans were before overlaps (benchmarks)."""
    (graph_input,), (graph_output,) = ir.inputs, ir.outputs
    producers = ir.producers()
    consumers = ir.consumers()
    end = len(ir.layers)  # the copy-out step, after the last layer
    last_use = {t: max(l.index for l in users) for t, users in consumers.items()}

    external: dict[int, str] = {} if input_in_arena else {graph_input: "input"}
    # Views of the input stay in the caller's buffer too.
    for layer, code in zip(ir.layers, codes):
        if code.view and layer.inputs[0] in external and external[layer.inputs[0]] == "input":
            external[layer.outputs[0]] = "input"
    out_layer = producers.get(graph_output)
    copy_out = None
    if graph_output in external:
        copy_out = graph_output
    elif out_layer is not None and not codes[out_layer.index].view and graph_output not in consumers:
        external[graph_output] = "output"
    else:
        copy_out = graph_output

    tensors: dict[int, PlanTensor] = {}
    root: dict[int, int] = {}  # tensor -> the tensor whose block it lives in
    block_last: dict[int, int] = {}

    def lifetime_end(t: int) -> int:
        return end if t == copy_out else last_use.get(t, producers[t].index if t in producers else 0)

    if input_in_arena:  # written before the first layer runs
        tensors[graph_input] = PlanTensor(tensor_symbol(ir, graph_input), ir.tensor(graph_input).nbytes, 0,
                                          lifetime_end(graph_input))
        root[graph_input] = graph_input
        block_last[graph_input] = lifetime_end(graph_input)

    for layer, code in zip(ir.layers, codes):
        for out in layer.outputs:
            if out in external:
                continue
            alias, option = None, None
            if code.view and layer.inputs[0] not in external:
                alias = layer.inputs[0]
            elif code.overlap is not None and len(layer.outputs) == 1:
                source = layer.inputs[code.overlap.input]
                if _overwritable(layer, source, external, copy_out, root, block_last):
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


def _overwritable(layer, source: int, external: dict[int, str], copy_out: int | None, root: dict[int, int],
                  block_last: dict[int, int]) -> bool:
    """Whether the layer may write over `source`: an arena buffer that no one reads after this layer (all its
    views included) and that the layer reads through no other input."""
    if source in external or source == copy_out or block_last[root[source]] != layer.index:
        return False
    return all(root.get(t) != root[source] for position, t in enumerate(layer.inputs) if t != source) \
        and layer.inputs.count(source) == 1
