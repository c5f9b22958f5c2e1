"""Byte-exact simulation of a generated model's memory schedule: every layer's reads and writes in the arena.

The arena is an array of tags: which tensor's data (views share their input's) and which byte of it each
arena byte holds; an input that lives in the arena is there before the first layer. Layer by layer: every input must be intact when the layer starts; the layer's scratch
must share no byte with its inputs or output; each output byte written over an input byte must come after
that byte's last read in every path the build may take (the times of the emitter's declared access order,
codegen/overlap.py), and an output may share bytes with no input that has no declared order. Then the
output's tags are written. A tensor copied out after the last layer must be intact at the end.
"""

from __future__ import annotations

import numpy as np

from flynet_tiny.codegen.placement import tensor_symbol


def simulate_schedule(ir, codes, placement, plan, dsp_kernels: bool) -> list[str]:
    """Every violation found, as text (empty: no byte of a live tensor is overwritten before its last read)."""
    owner = np.full(plan.arena_bytes, -1, dtype=np.int64)
    index = np.zeros(plan.arena_bytes, dtype=np.int64)
    data = {t: t for t in ir.inputs}
    for layer, code in zip(ir.layers, codes):
        for out in layer.outputs:
            data[out] = data[layer.inputs[0]] if code.view else out

    def where(t: int) -> tuple[int, int] | None:
        if t in placement.external:
            return None
        return plan.offsets[tensor_symbol(ir, t)], ir.tensor(t).nbytes

    def intact(t: int) -> bool:
        start, size = where(t)
        return bool(np.all(owner[start:start + size] == data[t]) and
                    np.all(index[start:start + size] == np.arange(size)))

    for t in ir.inputs:  # flynet_invoke copies an input that lives in the arena there first
        if where(t) is not None:
            start, size = where(t)
            owner[start:start + size], index[start:start + size] = data[t], np.arange(size)
    errors = []
    for layer, code in zip(ir.layers, codes):
        arena_inputs = [(position, t, where(t)) for position, t in enumerate(layer.inputs) if where(t) is not None]
        errors += [f"layer {layer.index} reads tensor {t} after it was overwritten"
                   for _, t, _ in arena_inputs if not intact(t)]
        if code.view:
            continue
        outputs = [(t, where(t)) for t in layer.outputs if where(t) is not None]
        scratch = plan.offsets.get(f"scratch_{layer.index}")
        if scratch is not None:
            size = next(p.size for p in plan.tensors if p.name == f"scratch_{layer.index}")
            for t, (start, length) in [(t, loc) for _, t, loc in arena_inputs] + outputs:
                if start < scratch + size and scratch < start + length:
                    errors.append(f"layer {layer.index}: scratch shares bytes with tensor {t}")
        for out, (start, length) in outputs:
            for position, t, (in_start, in_length) in arena_inputs:
                lo, hi = max(start, in_start), min(start + length, in_start + in_length)
                if lo >= hi:
                    continue
                if code.overlap is None or code.overlap.input != position:
                    errors.append(f"layer {layer.index} writes over input {t} with no declared access order")
                    continue
                j = np.arange(lo - start, hi - start)
                i = j + start - in_start
                for schedule in code.overlap.paths(dsp_kernels):
                    read, write = schedule.times()
                    late = np.flatnonzero(read[i] > write[j])
                    if late.size:
                        errors.append(f"layer {layer.index} ({type(schedule).__name__}): output byte {j[late[0]]} "
                                      f"written before input byte {i[late[0]]} of tensor {t} is last read")
            owner[start:start + length] = data[out]
            index[start:start + length] = np.arange(length)
    errors += [f"tensor {t} was overwritten before it was copied out"
               for _, t in placement.copy_out if where(t) is not None and not intact(t)]
    return errors
