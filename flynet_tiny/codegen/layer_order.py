"""The order the layers run in: a topological order of the layer graph that keeps fewer bytes alive.

TFLite's operator order is one topological order of the graph; where branches join, another may keep
fewer maps alive at once. ResNet's downsampling block is the example: the converter runs the main path
(3x3 stride 2, 3x3) before the 1x1 shortcut, so the block's input stays alive beside both main-path
maps; running the shortcut first lets the main path's first conv be the input's last reader and write
its output over it. `best_order` searches the orders by dynamic programming over the sets of layers
already run (as Serenity does, Ahn et al. 2020), keeping the best few hundred sets per step: each
step costs the bytes of the maps still to be read, the new output and the kernel's scratch, less what
an output written over an input that dies there shares with it (its safe offset, `overlap.py`). The
order with the smallest peak wins; between equal peaks, the smaller sum over steps, then the order
closer to the original (fewer layers moved ahead of earlier ones): deterministic, and the original
order whenever nothing is better.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import Layer, ModelIR
from .layer_code import LayerCode
from .overlap import safe_offset

BEAM = 256  # sets of layers kept per step


@dataclass(frozen=True)
class LayerCost:
    """What one layer adds to the bytes alive while it runs."""

    output_bytes: int            # its output's bytes in the arena (0: a view, or the caller's buffer)
    scratch_bytes: int
    overlap_input: int | None    # the tensor its output may be written over where that input dies here
    shared_bytes: int            # the bytes they then share


def layer_costs(ir: ModelIR, codes: list[LayerCode], scratch: list[int], external: set[int], alignment: int,
                dsp_kernels: bool, overlaps: bool = True) -> list[LayerCost]:
    """Each layer's cost for `best_order`; `external`: tensors in the caller's buffers; `overlaps=False`:
    outputs share bytes with their input only in place."""
    costs = []
    for layer, code, size in zip(ir.layers, codes, scratch):
        output = sum(ir.tensor(t).nbytes for t in layer.outputs if t not in external) if not code.view else 0
        source, shared = None, 0
        if code.overlap is not None and len(layer.outputs) == 1 and output:
            source = layer.inputs[code.overlap.input]
            n_in, n_out = ir.tensor(source).nbytes, output
            d = safe_offset(code.overlap, n_in, n_out, alignment, dsp_kernels) if source not in external else None
            if d is not None and d < 0 and not overlaps:
                d = None
            shared = 0 if d is None else n_in + n_out - (max(n_in, d + n_out) - min(0, d))
        costs.append(LayerCost(output, size, source, shared))
    return costs


def _roots(ir: ModelIR, views: set[int]) -> dict[int, int]:
    """Tensor -> the tensor whose bytes it is (views share their input's)."""
    root: dict[int, int] = {t: t for t in ir.inputs}
    for layer in ir.layers:
        for out in layer.outputs:
            root[out] = root.get(layer.inputs[0], layer.inputs[0]) if layer.index in views else out
    return root


def best_order(ir: ModelIR, costs: list[LayerCost], views: set[int], arena_bytes: dict[int, int],
               kept_to_end: set[int] = frozenset()) -> list[int]:
    """Layer indices in the order that minimises the estimated peak. `arena_bytes`: each tensor's bytes in
    the arena (0 or absent: the caller's buffers); `kept_to_end`: tensors read after the last layer."""
    n = len(ir.layers)
    root = _roots(ir, views)
    needs = [0] * n                                    # layers each layer waits for (bit masks)
    producer = {t: layer.index for layer in ir.layers for t in layer.outputs}
    readers: dict[int, int] = {}                       # root -> mask of layers reading it
    for layer in ir.layers:
        for t in layer.inputs:
            if t in producer:
                needs[layer.index] |= 1 << producer[t]
            readers[root[t]] = readers.get(root[t], 0) | (1 << layer.index)
    forever = {root[t] for t in kept_to_end}
    size = {r: arena_bytes.get(r, 0) for r in set(root.values())}
    # Roots alive before any layer runs: the model inputs that live in the arena.
    start_alive = sum(size[r] for r in {root[t] for t in ir.inputs} if readers.get(r) or r in forever)
    made = [[root[out] for out in layer.outputs if root[out] == out] for layer in ir.layers]
    read_roots = [sorted({root[t] for t in layer.inputs}) for layer in ir.layers]
    overlap_root = [None if c.overlap_input is None else root[c.overlap_input] for c in costs]
    full = (1 << n) - 1

    # state: done mask -> (peak, area, moved, alive bytes, order)
    states: dict[int, tuple[int, int, int, int, tuple[int, ...]]] = {0: (0, 0, 0, start_alive, ())}
    for _ in range(n):
        following: dict[int, tuple[int, int, int, int, tuple[int, ...]]] = {}
        for done, (peak, area, moved, alive, order) in states.items():
            for index in range(n):
                bit = 1 << index
                if done & bit or needs[index] & ~done:
                    continue
                after = done | bit
                dying = [r for r in read_roots[index] if r not in forever and readers[r] & ~after == 0]
                saving = costs[index].shared_bytes if overlap_root[index] in dying else 0
                cost = costs[index]
                during = alive + cost.output_bytes + cost.scratch_bytes - saving
                kept = sum(size[r] for r in made[index] if readers.get(r, 0) & ~after or r in forever)
                state = (max(peak, during), area + during, moved + (done >> (index + 1)).bit_count(),
                         alive + kept - sum(size[r] for r in dying), order + (index,))
                best = following.get(after)
                if best is None or state[:3] + (state[4],) < best[:3] + (best[4],):
                    following[after] = state
        states = dict(sorted(following.items(), key=lambda kv: kv[1][:3] + (kv[1][4],))[:BEAM])
    return list(states[full][4])


def reordered(ir: ModelIR, order: list[int]) -> ModelIR:
    """A copy of the IR with its layers in `order` (fresh Layer objects, renumbered)."""
    layers = [Layer(ir.layers[i].kind, ir.layers[i].ops, list(ir.layers[i].inputs), list(ir.layers[i].outputs),
                    attrs=dict(ir.layers[i].attrs)) for i in order]
    result = ModelIR(ir.graph, layers, ir.inputs, ir.outputs)
    result.renumber()
    return result
