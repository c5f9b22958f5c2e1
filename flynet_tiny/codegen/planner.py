"""The memory planner: one static arena, offsets fixed ahead of time.

Used by the code generator (offsets baked into `model.c`) and by the fit
checker (arena bytes against a board's SRAM). Input: tensors with byte sizes
and lifetimes [first, last] in layer order. Output: an offset per tensor such
that no two tensors alive in the same layer share a byte.

Algorithm: greedy by size with lifetimes. Tensors joined by aliasing (a reshape
that reuses its input's bytes, an elementwise op writing over an input that
dies) are first merged into one block whose lifetime is the union of theirs.
Blocks are then placed largest first, each at the lowest aligned offset that
does not collide with an already placed block whose lifetime overlaps.
"""

from __future__ import annotations

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

    def offset(self, name: str) -> int:
        return self.offsets[name]

    def table(self) -> str:
        rows = []
        for t in sorted(self.tensors, key=lambda t: (self.offsets[t.name], t.first, t.name)):
            shared = self.blocks[t.name] if self.blocks[t.name] != t.name else ""
            rows.append([t.name, t.kind, self.offsets[t.name], t.size, f"{t.first}..{t.last}", shared])
        body = format_table(["tensor", "kind", "offset", "bytes", "layers", "shares memory with"], rows, "llrrll")
        return f"{body}\narena: {self.arena_bytes:,} bytes ({len(self.tensors)} tensors, {self.alignment}-byte aligned)"

    def to_json(self) -> dict:
        return {
            "arena_bytes": self.arena_bytes,
            "alignment": self.alignment,
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
    size: int
    first: int
    last: int


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
            blocks[root] = _Block(root, offset + t.size, t.first, t.last)
        else:
            block.size = max(block.size, offset + t.size)
            block.first = min(block.first, t.first)
            block.last = max(block.last, t.last)
    return blocks, placement


def plan_memory(tensors: list[PlanTensor], alignment: int = DEFAULT_ALIGNMENT) -> MemoryPlan:
    """Place every tensor in one arena; deterministic for the same input."""
    for t in tensors:
        if t.size < 0 or t.first > t.last:
            raise FlynetError(f"tensor {t.name!r} has size {t.size} and lifetime {t.first}..{t.last}: not plannable")
    blocks, placement = _merge_aliases(tensors)
    # Largest first; ties broken by earliest use, then name, so the plan never depends on dict order.
    order = sorted(blocks.values(), key=lambda b: (-b.size, b.first, b.root))
    placed: list[tuple[_Block, int]] = []
    block_offsets: dict[str, int] = {}
    for block in order:
        busy = sorted(
            (offset, offset + other.size)
            for other, offset in placed
            if block.first <= other.last and other.first <= block.last and other.size > 0
        )
        candidate = 0
        for start, end in busy:
            if candidate + block.size <= start:
                break
            candidate = max(candidate, _align(end, alignment))
        block_offsets[block.root] = candidate
        placed.append((block, candidate))
    arena = max((offset + block.size for block, offset in placed), default=0)
    offsets = {t.name: block_offsets[placement[t.name][0]] + placement[t.name][1] for t in tensors}
    return MemoryPlan(
        tensors=list(tensors),
        offsets=offsets,
        arena_bytes=_align(arena, alignment),
        alignment=alignment,
        blocks={t.name: placement[t.name][0] for t in tensors},
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
