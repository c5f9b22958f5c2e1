"""The memory planner: one static arena, offsets fixed ahead of time.

Used by the code generator (offsets baked into `model.c`) and by the fit
checker (arena bytes against a board's SRAM). Input: tensors with byte sizes
and lifetimes [first, last] in layer order. Output: an offset per tensor such
that no two tensors alive in the same layer share a byte.

Algorithm: greedy by size with lifetimes. Tensors joined by aliasing (a reshape
that reuses its input's bytes, an elementwise op writing over an input that
dies) are first merged into one block whose lifetime is the union of theirs;
the block keeps each member's extent and lifetime, so when an in-place output
is smaller than its input (Max-out over heads) the freed tail is free for
others. Blocks are then placed one by one, each at the lowest aligned offset
where no extent of it collides with an extent of an already placed block at the
same time; this is done for a few placement orders (largest first, and others)
and the smallest arena wins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..errors import FlynetError
from ..reporting import format_table

DEFAULT_ALIGNMENT = 16


@dataclass(frozen=True)
class PlanTensor:
    """One buffer to place. `alias_of` names a tensor whose bytes it reuses (at `alias_offset`)."""

    name: str
    size: int
    first: int
    last: int
    kind: str = "activation"  # "activation" or "scratch"
    alias_of: str | None = None
    alias_offset: int = 0


@dataclass
class MemoryPlan:
    tensors: list[PlanTensor]
    offsets: dict[str, int]
    arena_bytes: int
    alignment: int
    blocks: dict[str, str] = field(default_factory=dict)  # tensor -> the block (root tensor) holding it
    strategy: str = "size"                                  # the placement order that gave the smallest arena

    def offset(self, name: str) -> int:
        return self.offsets[name]

    def table(self) -> str:
        rows = []
        for t in sorted(self.tensors, key=lambda t: (self.offsets[t.name], t.first, t.name)):
            shared = self.blocks[t.name] if self.blocks[t.name] != t.name else ""
            rows.append([t.name, t.kind, self.offsets[t.name], t.size, f"{t.first}..{t.last}", shared])
        body = format_table(["tensor", "kind", "offset", "bytes", "layers", "shares memory with"], rows, "llrrll")
        return (f"{body}\narena: {self.arena_bytes:,} bytes ({len(self.tensors)} tensors, {self.alignment}-byte aligned, "
                f"placed in {self.strategy} order)")

    def to_json(self) -> dict:
        return {
            "arena_bytes": self.arena_bytes,
            "alignment": self.alignment,
            "placement_order": self.strategy,
            "tensors": [
                {
                    "name": t.name,
                    "kind": t.kind,
                    "offset": self.offsets[t.name],
                    "size": t.size,
                    "first_use": t.first,
                    "last_use": t.last,
                    "shares_memory_with": t.alias_of,
                }
                for t in self.tensors
            ],
        }


def lifetimes_overlap(a: PlanTensor, b: PlanTensor) -> bool:
    return a.first <= b.last and b.first <= a.last


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass
class _Block:
    root: str
    size: int   # the largest extent
    first: int
    last: int
    extents: list[tuple[int, int, int]] = field(default_factory=list)  # (bytes from the block start, first, last)


def _merge_aliases(tensors: list[PlanTensor]) -> tuple[dict[str, _Block], dict[str, tuple[str, int]]]:
    """Resolve alias chains to (root tensor, byte offset in the root's block)."""
    by_name = {t.name: t for t in tensors}
    if len(by_name) != len(tensors):
        raise FlynetError("memory plan has two tensors with the same name: name every tensor uniquely")
    placement: dict[str, tuple[str, int]] = {}

    def resolve(name: str, chain: tuple[str, ...] = ()) -> tuple[str, int]:
        if name in placement:
            return placement[name]
        if name in chain:
            raise FlynetError(f"memory plan aliases form a cycle through {name!r}")
        t = by_name[name]
        if t.alias_of is None:
            result = (name, 0)
        else:
            if t.alias_of not in by_name:
                raise FlynetError(f"tensor {name!r} aliases unknown tensor {t.alias_of!r}")
            root, base = resolve(t.alias_of, chain + (name,))
            result = (root, base + t.alias_offset)
        placement[name] = result
        return result

    blocks: dict[str, _Block] = {}
    for t in tensors:
        root, offset = resolve(t.name)
        block = blocks.get(root)
        if block is None:
            block = blocks[root] = _Block(root, offset + t.size, t.first, t.last)
        else:
            block.size = max(block.size, offset + t.size)
            block.first = min(block.first, t.first)
            block.last = max(block.last, t.last)
        block.extents.append((offset + t.size, t.first, t.last))
    return blocks, placement


# Orders in which blocks are placed. Greedy by size is the classic; the others win on graphs
# where a long-lived small tensor fragments the arena. All are tried and the smallest arena kept.
PLACEMENT_ORDERS = {
    "size": lambda b: (-b.size, b.first, b.root),
    "size_x_lifetime": lambda b: (-b.size * (b.last - b.first + 1), -b.size, b.first, b.root),
    "lifetime": lambda b: (-(b.last - b.first), -b.size, b.first, b.root),
    "first_use": lambda b: (b.first, -b.size, b.root),
}


def _busy_ranges(block: _Block, other: _Block, offset: int) -> list[tuple[int, int, int]]:
    """(start, end, bytes `block` needs there) for each pair of their extents alive at the same time."""
    return [(offset, offset + other_bytes, size)
            for size, first, last in block.extents
            for other_bytes, other_first, other_last in other.extents
            if first <= other_last and other_first <= last and size > 0 and other_bytes > 0]


def _place_blocks(blocks: list[_Block], order, alignment: int) -> dict[str, int]:
    """Each block, in `order`, at the lowest aligned offset clear of placed blocks alive at the same time."""
    placed: list[tuple[_Block, int]] = []
    offsets: dict[str, int] = {}
    for block in sorted(blocks, key=order):
        busy = sorted(
            range_
            for other, offset in placed
            if block.first <= other.last and other.first <= block.last and other.size > 0
            for range_ in _busy_ranges(block, other, offset)
        )
        # Extents differ in size, so moving past one range can run into an earlier one: repeat to a fixed point.
        candidate, moved = 0, True
        while moved:
            moved = False
            for start, end, size in busy:
                if candidate < end and candidate + size > start:
                    candidate, moved = _align(end, alignment), True
        offsets[block.root] = candidate
        placed.append((block, candidate))
    return offsets


def _arena(blocks: list[_Block], offsets: dict[str, int]) -> int:
    return max((offsets[b.root] + b.size for b in blocks), default=0)


def live_bytes_bound(blocks: list[_Block], alignment: int) -> int:
    """No plan can beat the aligned bytes alive in the busiest layer."""
    layers = {first for b in blocks for _, first, _ in b.extents}

    def extent(b: _Block, layer: int) -> int:
        return max((size for size, first, last in b.extents if first <= layer <= last), default=0)

    return max((sum(_align(extent(b, layer), alignment) for b in blocks) for layer in layers), default=0)


def _improve(blocks: list[_Block], order: list[_Block], arena: int, alignment: int, bound: int,
             max_passes: int = 4) -> tuple[list[_Block], int, dict[str, int] | None]:
    """Local search: move one block to the front of the order when that shrinks the arena."""
    best_offsets = None
    for _ in range(max_passes):
        improved = False
        for block in list(order):
            if arena <= bound:
                return order, arena, best_offsets
            candidate = [block] + [b for b in order if b is not block]
            position = {b.root: i for i, b in enumerate(candidate)}
            offsets = _place_blocks(candidate, lambda b: position[b.root], alignment)
            size = _arena(blocks, offsets)
            if size < arena:
                order, arena, best_offsets, improved = candidate, size, offsets, True
        if not improved:
            break
    return order, arena, best_offsets


def _perturbed_orders(blocks: list[_Block], arena: int, alignment: int, bound: int,
                      tries: int = 200, seed: int = 0) -> tuple[int, str, dict[str, int]] | None:
    """Largest-first orders with sizes jittered by up to 50% (a fixed seed keeps plans reproducible);
    the first that reaches the bound, or else the best better than `arena`, wins."""
    rng = random.Random(seed)
    best = None
    for attempt in range(tries):
        jitter = {b.root: 1.0 + 0.5 * rng.random() for b in blocks}
        offsets = _place_blocks(blocks, lambda b: (-b.size * jitter[b.root], b.root), alignment)
        size = _arena(blocks, offsets)
        if size < arena:
            arena, best = size, (size, f"jittered size order #{attempt}", offsets)
            if size <= bound:
                break
    return best


def plan_memory(tensors: list[PlanTensor], alignment: int = DEFAULT_ALIGNMENT) -> MemoryPlan:
    """Place every tensor in one arena; deterministic for the same input."""
    for t in tensors:
        if t.size < 0 or t.first > t.last:
            raise FlynetError(f"tensor {t.name!r} has size {t.size} and lifetime {t.first}..{t.last}: not plannable")
    blocks_by_root, placement = _merge_aliases(tensors)
    blocks = sorted(blocks_by_root.values(), key=lambda b: b.root)
    best: tuple[int, str, dict[str, int]] | None = None
    for name, order in PLACEMENT_ORDERS.items():
        block_offsets = _place_blocks(blocks, order, alignment)
        arena = _arena(blocks, block_offsets)
        if best is None or arena < best[0]:
            best = (arena, name, block_offsets)
    arena, strategy, block_offsets = best
    bound = live_bytes_bound(blocks, alignment)
    _, improved_arena, improved_offsets = _improve(
        blocks, sorted(blocks, key=PLACEMENT_ORDERS[strategy]), arena, alignment, bound)
    if improved_offsets is not None:
        arena, strategy, block_offsets = improved_arena, f"{strategy}, then local search", improved_offsets
    if arena > bound:
        found = _perturbed_orders(blocks, arena, alignment, bound)
        if found is not None:
            arena, strategy, block_offsets = found
    offsets = {t.name: block_offsets[placement[t.name][0]] + placement[t.name][1] for t in tensors}
    return MemoryPlan(
        tensors=list(tensors),
        offsets=offsets,
        arena_bytes=_align(arena, alignment),
        alignment=alignment,
        blocks={t.name: placement[t.name][0] for t in tensors},
        strategy=strategy,
    )


def plan_conflicts(plan: MemoryPlan) -> list[tuple[str, str]]:
    """Pairs of tensors from different blocks that are alive together and share bytes (should be none)."""
    conflicts = []
    items = sorted(plan.tensors, key=lambda t: t.name)
    for i, a in enumerate(items):
        a_start = plan.offsets[a.name]
        for b in items[i + 1 :]:
            if plan.blocks[a.name] == plan.blocks[b.name] or not lifetimes_overlap(a, b):
                continue
            b_start = plan.offsets[b.name]
            if a.size and b.size and a_start < b_start + b.size and b_start < a_start + a.size:
                conflicts.append((a.name, b.name))
    return conflicts
