"""The layer order: a topological order of the layer DAG chosen for the fewest bytes alive, run by the C."""

from __future__ import annotations

import re

import numpy as np
import pytest

from codegen_models import branch_order_model, conv_chain_model
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.codegen.layer_order import best_order, layer_costs, reordered
from flynet_tiny.codegen.placement import place_tensors, tensor_symbol
from flynet_tiny.codegen.planner import plan_conflicts, plan_memory
from flynet_tiny.tflite.interpreters import run_tflm_batch
from schedule_sim import simulate_schedule
from test_overlap_plan import random_ir


def _order(ir, codes, scratch, dsp_kernels=True):
    placement = place_tensors(ir, codes, scratch, 16, dsp_kernels)
    external = set(placement.external)
    costs = layer_costs(ir, codes, scratch, external, 16, dsp_kernels)
    arena = {t: ir.tensor(t).nbytes for l in ir.layers for t in (*l.inputs, *l.outputs) if t not in external}
    kept = {t for _, t in placement.copy_out}
    return best_order(ir, costs, {i for i, c in enumerate(codes) if c.view}, arena, kept)


def _is_topological(ir, order) -> bool:
    done = set(ir.inputs)
    for index in order:
        layer = ir.layers[index]
        if not set(layer.inputs) <= done:
            return False
        done |= set(layer.outputs)
    return sorted(order) == list(range(len(ir.layers)))


@pytest.mark.parametrize("seed", range(20))
def test_random_graphs_get_a_topological_order_whose_schedule_simulates_clean(seed):
    ir, codes, scratch = random_ir(seed)
    order = _order(ir, codes, scratch)
    assert _is_topological(ir, order)
    assert order == _order(ir, codes, scratch)  # deterministic
    moved = reordered(ir, order)
    moved_codes = [codes[i] for i in order]
    moved_scratch = [scratch[i] for i in order]
    placement = place_tensors(moved, moved_codes, moved_scratch, 16, True)
    plan = plan_memory(placement.plan_tensors)
    assert plan_conflicts(plan) == []
    assert simulate_schedule(moved, moved_codes, placement, plan, True) == []
    assert [l.index for l in moved.layers] == list(range(len(order)))
    assert [l.ops for l in moved.layers] == [ir.layers[i].ops for i in order]


def test_a_chain_keeps_the_converters_order(tmp_path):
    generated = generate_model_sources(conv_chain_model(), tmp_path)
    ops = [op.index for layer in generated.ir.layers for op in layer.ops]
    assert ops == sorted(ops)


def test_the_small_branch_runs_first_and_the_c_follows_the_new_order(tmp_path):
    """branch_order_model: the converter runs the 48-channel branch before the mean of the map both read;
    the mean first lets the expand write over the map: a smaller arena, the same bytes out."""
    model = branch_order_model()
    generated = generate_model_sources(model, tmp_path / "reordered")
    original = generate_model_sources(model, tmp_path / "original", reorder_layers=False)
    assert [l.kind for l in original.layers] == ["CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "ADD"]
    assert [l.kind for l in generated.layers] == ["CONV_2D", "MEAN", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "ADD"]
    assert generated.arena_bytes < original.arena_bytes
    # The expand now writes over the map it reads; in the converter's order the mean still needs it.
    ir = generated.ir
    expand = tensor_symbol(ir, ir.layers[2].outputs[0])
    assert generated.plan.overlaps[expand].tensor == tensor_symbol(ir, ir.layers[0].outputs[0])
    # model.c calls the kernels in the new order.
    text = (tmp_path / "reordered" / "model.c").read_text()
    calls = re.findall(r"status = (fn_\w+)\(", text)
    assert calls == ["fn_conv2d_s8", "fn_mean_s8", "fn_conv2d_s8", "fn_depthwise_conv2d_s8", "fn_conv2d_s8",
                     "fn_add_s8"]
    rng = np.random.default_rng(4)
    inputs = [rng.integers(-128, 128, size=generated.input_shape).astype(np.int8) for _ in range(3)]
    expected = run_tflm_batch(model, [[x] for x in inputs])
    host = HostModel(generated)
    assert all(np.array_equal(host.invoke(x), want[0]) for x, want in zip(inputs, expected))


def test_random_graphs_are_reordered():
    """Not vacuous: random DAGs have orders that keep fewer bytes alive than the one they were built in."""
    moved = 0
    for seed in range(20):
        ir, codes, scratch = random_ir(seed)
        moved += _order(ir, codes, scratch) != list(range(len(ir.layers)))
    assert moved >= 10
