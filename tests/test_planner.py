"""The memory planner: no two live tensors share a byte, aliases share theirs, plans are deterministic."""

import random

import pytest

from flynet_tiny.codegen.planner import PlanTensor, plan_conflicts, plan_memory
from flynet_tiny.errors import FlynetError


def random_graph_tensors(seed: int, layers: int = 30) -> list[PlanTensor]:
    """A random layered graph: each layer's output lives until its last random consumer; some reshape views."""
    rng = random.Random(seed)
    tensors = [PlanTensor("t0", rng.randrange(1, 5000), 0, 0)]
    for layer in range(1, layers):
        # Every earlier tensor may be read by this layer, which extends its life.
        for i, t in enumerate(tensors):
            if t.kind == "activation" and rng.random() < 0.15 and t.first < layer:
                tensors[i] = PlanTensor(t.name, t.size, t.first, max(t.last, layer), t.kind, t.alias_of, t.alias_offset)
        source = tensors[-1]
        if rng.random() < 0.2 and source.kind == "activation":
            tensors[-1] = PlanTensor(source.name, source.size, source.first, max(source.last, layer), source.kind,
                                     source.alias_of, source.alias_offset)
            # A view keeps the size; an in-place op may write a smaller output (Max-out over heads).
            size = source.size if rng.random() < 0.5 else rng.randrange(1, source.size + 1)
            tensors.append(PlanTensor(f"t{layer}", size, layer, layer, alias_of=source.name))
        else:
            tensors.append(PlanTensor(f"t{layer}", rng.randrange(1, 5000), layer, layer))
        if rng.random() < 0.3:
            tensors.append(PlanTensor(f"scratch{layer}", rng.randrange(1, 800), layer, layer, kind="scratch"))
    return tensors


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_never_overlap_live_tensors(seed):
    tensors = random_graph_tensors(seed)
    plan = plan_memory(tensors, alignment=16)
    assert plan_conflicts(plan) == []
    for t in tensors:
        assert plan.offsets[t.name] % 16 == 0 or t.alias_of is not None
        assert plan.offsets[t.name] + t.size <= plan.arena_bytes
    # The arena can never be smaller than the bytes alive in the busiest layer.
    last_layer = max(t.last for t in tensors)
    for layer in range(last_layer + 1):
        blocks_alive = {plan.blocks[t.name]: t for t in tensors if t.first <= layer <= t.last}
        assert plan.arena_bytes >= sum(t.size for t in blocks_alive.values())


def test_plan_is_deterministic_and_independent_of_input_order():
    tensors = random_graph_tensors(7)
    first = plan_memory(tensors)
    shuffled = list(tensors)
    random.Random(1).shuffle(shuffled)
    second = plan_memory(shuffled)
    assert first.offsets == second.offsets and first.arena_bytes == second.arena_bytes


def test_chain_reuses_memory_of_dead_tensors():
    # a -> b -> c -> d: only neighbours are alive together, so two slots suffice.
    tensors = [PlanTensor(n, 1000, i, i + 1) for i, n in enumerate("abcd")]
    plan = plan_memory(tensors, alignment=16)
    assert plan.arena_bytes == 2 * 1008
    assert plan.offsets["a"] == plan.offsets["c"]
    assert plan.offsets["b"] == plan.offsets["d"]


def test_view_shares_bytes_and_extends_the_block_lifetime():
    tensors = [
        PlanTensor("x", 64, 0, 1),
        PlanTensor("x_flat", 64, 1, 3, alias_of="x"),
        PlanTensor("y", 64, 2, 2),
    ]
    plan = plan_memory(tensors)
    assert plan.offsets["x"] == plan.offsets["x_flat"]
    assert plan.offsets["y"] != plan.offsets["x"]  # x's block lives to layer 3 through its view
    assert plan.blocks["x_flat"] == "x"
    assert plan_conflicts(plan) == []


def test_json_and_table_name_every_tensor():
    plan = plan_memory(random_graph_tensors(3, layers=8))
    data = plan.to_json()
    assert [t["name"] for t in data["tensors"]] == [t.name for t in plan.tensors]
    assert data["arena_bytes"] == plan.arena_bytes
    table = plan.table()
    for t in plan.tensors:
        assert t.name in table


def test_bad_plans_are_refused_with_one_line():
    with pytest.raises(FlynetError, match="unknown tensor"):
        plan_memory([PlanTensor("a", 4, 0, 1, alias_of="missing")])
    with pytest.raises(FlynetError, match="same name"):
        plan_memory([PlanTensor("a", 4, 0, 1), PlanTensor("a", 4, 1, 2)])
    with pytest.raises(FlynetError, match="lifetime"):
        plan_memory([PlanTensor("a", 4, 3, 1)])


def test_smaller_in_place_output_frees_the_tail_of_its_block():
    # A Max-out written over its C*h input keeps only the first C bytes of the block alive afterwards;
    # a tensor born later fits in the freed tail instead of above the whole block.
    tensors = [PlanTensor("wide", 1000, 0, 1), PlanTensor("narrow", 200, 1, 3, alias_of="wide"),
               PlanTensor("later", 600, 2, 3)]
    plan = plan_memory(tensors, alignment=16)
    assert plan_conflicts(plan) == []
    assert plan.offsets["later"] == 208
    assert plan.arena_bytes == 1008
