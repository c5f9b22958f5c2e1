"""The memory planner: one static arena, offsets fixed ahead of time.

Used by the code generator (offsets baked into `model.c`) and by the fit
checker (arena bytes against a board's SRAM). Input: tensors with byte sizes
and lifetimes [first, last] in layer order. Output: an offset per tensor such
that no two tensors alive in the same layer share a byte, except where sharing
was asked for:

- an alias (`alias_of`): a reshape that is its input's bytes, an elementwise op
  or Max-out written over an input that dies; always taken;
- an overlap option (`overlap`): a layer's output may start `offset` bytes
  before (or at) the input it reads, because the kernel reads every input byte
  before it writes there (`overlap.py` computes the offset from the kernel's
  access order). Taken where it makes the arena smaller: a chain of layers
  each written just below its input drifts down the arena, so the planner
  chooses which overlaps to take.

Algorithm: tensors joined by aliasing (and by the overlaps taken) are merged
into one block; the block keeps each member's extent (its bytes within the
block) and lifetime, so what a member leaves free (the tail of a Max-out
block, the bytes above an output written below its input) is free for others.
Blocks are placed one by one, each at the lowest aligned offset where no extent
of it collides with an extent of an already placed block alive at the same
time; this is done for a few placement orders (largest first, and others),
then a local search and jittered orders, and the smallest arena wins. Which
overlaps to take: with up to 10 options, every subset is planned (fast placement); with more, all and
none are planned, then each is switched on or off while that makes the arena (then the summed high
water over layers) smaller.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field, replace

from ..errors import FlynetError
from ..reporting import format_table

DEFAULT_ALIGNMENT = 16


@dataclass(frozen=True)
class OverlapOption:
    """A tensor may start `offset` bytes from the start of `tensor` (the input its layer reads), sharing bytes."""

    tensor: str
    offset: int   # at most 0, a multiple of the alignment
    reason: str   # why the kernel's access order makes it safe


@dataclass(frozen=True)
class PlanTensor:
    """One buffer to place. `alias_of` names a tensor whose bytes it reuses (at `alias_offset`);
    `overlap` a tensor it may share bytes with, if that pays."""

    name: str
    size: int
    first: int
    last: int
    kind: str = "activation"  # "activation" or "scratch"
    alias_of: str | None = None
    alias_offset: int = 0
    overlap: OverlapOption | None = None


@dataclass
class MemoryPlan:
    tensors: list[PlanTensor]
    offsets: dict[str, int]
    arena_bytes: int
    alignment: int
    blocks: dict[str, str] = field(default_factory=dict)  # tensor -> the block (root tensor) holding it
    strategy: str = "size"                                  # the placement order that gave the smallest arena
    overlaps: dict[str, OverlapOption] = field(default_factory=dict)  # the overlap options taken

    def offset(self, name: str) -> int:
        return self.offsets[name]

    def shared_bytes(self, name: str) -> int:
        """Bytes a tensor shares with the input it overlaps (0 where it took no overlap)."""
        option = self.overlaps.get(name)
        if option is None:
            return 0
        other = next(t for t in self.tensors if t.name == option.tensor)
        start = max(self.offsets[name], self.offsets[other.name])
        end = min(self.offsets[name] + self._size(name), self.offsets[other.name] + other.size)
        return max(0, end - start)

    def _size(self, name: str) -> int:
        return next(t.size for t in self.tensors if t.name == name)

    def table(self) -> str:
        rows = []
        for t in sorted(self.tensors, key=lambda t: (self.offsets[t.name], t.first, t.name)):
            shared = t.alias_of or ""
            option = self.overlaps.get(t.name)
            overlap = (f"{self.shared_bytes(t.name):,} B of {option.tensor} ({option.offset:+d})" if option else "")
            rows.append([t.name, t.kind, self.offsets[t.name], t.size, f"{t.first}..{t.last}", shared, overlap])
        body = format_table(["tensor", "kind", "offset", "bytes", "layers", "shares memory with", "overlaps its input"],
                            rows, "llrrlll")
        text = (f"{body}\narena: {self.arena_bytes:,} bytes ({len(self.tensors)} tensors, {self.alignment}-byte aligned, "
                f"placed in {self.strategy} order)")
        if self.overlaps:
            saved = sum(self.shared_bytes(name) for name in self.overlaps)
            text += (f"\n{len(self.overlaps)} outputs written over their inputs ({saved:,} bytes shared); safe "
                     "because each kernel reads an input byte for the last time before it writes there:")
            for reason in sorted({o.reason for o in self.overlaps.values()}):
                text += f"\n  - {reason}"
        return text

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
                    "overlaps": None if t.name not in self.overlaps else {
                        "tensor": self.overlaps[t.name].tensor,
                        "offset": self.overlaps[t.name].offset,
                        "shared_bytes": self.shared_bytes(t.name),
                        "why": self.overlaps[t.name].reason,
                    },
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
    size: int   # bytes from the block's start to its last member's end
    first: int
    last: int
    extents: list[tuple[int, int, int, int]] = field(default_factory=list)  # (start, end, first, last) in the block


def _merge_aliases(tensors: list[PlanTensor]) -> tuple[dict[str, _Block], dict[str, tuple[str, int]]]:
    """Resolve alias chains to (root tensor, byte offset from the start of the root's block)."""
    by_name = {t.name: t for t in tensors}
    if len(by_name) != len(tensors):
        raise FlynetError("memory plan has two tensors with the same name: name every tensor uniquely")
    relative: dict[str, tuple[str, int]] = {}

    def resolve(name: str, chain: tuple[str, ...] = ()) -> tuple[str, int]:
        if name in relative:
            return relative[name]
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
        relative[name] = result
        return result

    for t in tensors:
        resolve(t.name)
    # Members may start before their root (an output written below its input): blocks start at their lowest member.
    lowest: dict[str, int] = {}
    for name, (root, offset) in relative.items():
        lowest[root] = min(lowest.get(root, 0), offset)
    placement = {name: (root, offset - lowest[root]) for name, (root, offset) in relative.items()}
    blocks: dict[str, _Block] = {}
    for t in tensors:
        root, offset = placement[t.name]
        block = blocks.get(root)
        if block is None:
            block = blocks[root] = _Block(root, offset + t.size, t.first, t.last)
        else:
            block.size = max(block.size, offset + t.size)
            block.first = min(block.first, t.first)
            block.last = max(block.last, t.last)
        if t.size > 0:
            block.extents.append((offset, offset + t.size, t.first, t.last))
    return blocks, placement


# Orders in which blocks are placed. Greedy by size is the classic; the others win on graphs
# where a long-lived small tensor fragments the arena. All are tried and the smallest arena kept.
PLACEMENT_ORDERS = {
    "size": lambda b: (-b.size, b.first, b.root),
    "size_x_lifetime": lambda b: (-b.size * (b.last - b.first + 1), -b.size, b.first, b.root),
    "lifetime": lambda b: (-(b.last - b.first), -b.size, b.first, b.root),
    "first_use": lambda b: (b.first, -b.size, b.root),
}


def _forbidden(block: _Block, other: _Block, offset: int) -> list[tuple[int, int]]:
    """Open intervals of offsets where `block` would share a byte with `other` (placed at `offset`) while
    two of their extents are alive together."""
    return [(offset + other_start - end, offset + other_end - start)
            for start, end, first, last in block.extents
            for other_start, other_end, other_first, other_last in other.extents
            if first <= other_last and other_first <= last]


def _place_blocks(blocks: list[_Block], order, alignment: int) -> dict[str, int]:
    """Each block, in `order`, at the lowest aligned offset clear of placed blocks alive at the same time."""
    placed: list[tuple[_Block, int]] = []
    offsets: dict[str, int] = {}
    for block in sorted(blocks, key=order):
        intervals = sorted(
            interval
            for other, offset in placed
            if block.first <= other.last and other.first <= block.last and block.extents and other.extents
            for interval in _forbidden(block, other, offset)
        )
        # Moving past one interval can land in an earlier one: repeat to a fixed point.
        candidate, moved = 0, True
        while moved:
            moved = False
            for low, high in intervals:
                if low < candidate < high:
                    candidate, moved = _align(high, alignment), True
        offsets[block.root] = candidate
        placed.append((block, candidate))
    return offsets


def _arena(blocks: list[_Block], offsets: dict[str, int]) -> int:
    return max((offsets[b.root] + b.size for b in blocks), default=0)


def _union_bytes(intervals: list[tuple[int, int]], alignment: int) -> int:
    """Bytes covered by intervals whose starts are aligned, each run of bytes rounded up to the alignment."""
    total, run_start, run_end = 0, None, None
    for start, end in sorted(intervals):
        if run_end is None or start > run_end:
            if run_end is not None:
                total += _align(run_end - run_start, alignment)
            run_start, run_end = start, end
        else:
            run_end = max(run_end, end)
    return total + (_align(run_end - run_start, alignment) if run_end is not None else 0)


def live_bytes_bound(blocks: list[_Block], alignment: int) -> int:
    """No plan of these blocks can beat the aligned bytes alive in the busiest layer."""
    layers = {first for b in blocks for _, _, first, _ in b.extents}
    return max((sum(_union_bytes([(s, e) for s, e, f, l in b.extents if f <= layer <= l], alignment) for b in blocks)
                for layer in layers), default=0)


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


@dataclass
class _Attempt:
    taken: frozenset[str]
    arena: int
    area: int                      # high water summed over layers: the tie-break between equal arenas
    strategy: str
    offsets: dict[str, int]
    blocks: dict[str, str]

    @property
    def key(self) -> tuple[int, int, int]:
        return self.arena, self.area, len(self.taken)


def _with_overlaps(tensors: list[PlanTensor], taken: frozenset[str]) -> list[PlanTensor]:
    """The tensors with the overlaps in `taken` turned into aliases at their offsets."""
    return [replace(t, alias_of=t.overlap.tensor, alias_offset=t.overlap.offset) if t.name in taken else t
            for t in tensors]


def _plan(tensors: list[PlanTensor], taken: frozenset[str], alignment: int, thorough: bool) -> _Attempt:
    effective = _with_overlaps(tensors, taken)
    blocks_by_root, placement = _merge_aliases(effective)
    blocks = sorted(blocks_by_root.values(), key=lambda b: b.root)
    best: tuple[int, str, dict[str, int]] | None = None
    for name, order in PLACEMENT_ORDERS.items():
        block_offsets = _place_blocks(blocks, order, alignment)
        arena = _arena(blocks, block_offsets)
        if best is None or arena < best[0]:
            best = (arena, name, block_offsets)
    arena, strategy, block_offsets = best
    if thorough:
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
    layers = {layer for t in tensors for layer in (t.first, t.last)}
    area = sum(max((offsets[t.name] + t.size for t in tensors if t.first <= layer <= t.last), default=0)
               for layer in layers)
    return _Attempt(taken, _align(arena, alignment), area, strategy, offsets,
                    {t.name: placement[t.name][0] for t in tensors})


EXHAUSTIVE_OVERLAPS = 10  # up to this many options, every subset is planned (1,024 fast plans at most)


def _choose_overlaps(tensors: list[PlanTensor], options: list[str], alignment: int, max_passes: int = 3) -> frozenset[str]:
    """Which overlaps to take, by the fast placement: every subset where there are few options; else all
    overlaps, none, then switch each on or off while the plan gets smaller. (One switch at a time can stall:
    in a chain of outputs each written over the last, the busiest layer may need two overlaps taken and the
    one between them left out.)"""
    if len(options) <= EXHAUSTIVE_OVERLAPS:
        subsets = (frozenset(c) for r in range(len(options) + 1) for c in itertools.combinations(options, r))
        return min((_plan(tensors, taken, alignment, False) for taken in subsets), key=lambda a: a.key).taken
    attempts = [_plan(tensors, frozenset(options), alignment, False), _plan(tensors, frozenset(), alignment, False)]
    best = min(attempts, key=lambda a: a.key)
    for _ in range(max_passes):
        improved = False
        for name in options:
            trial = _plan(tensors, best.taken ^ {name}, alignment, False)
            if trial.key < best.key:
                best, improved = trial, True
        if not improved:
            break
    return best.taken


def plan_memory(tensors: list[PlanTensor], alignment: int = DEFAULT_ALIGNMENT) -> MemoryPlan:
    """Place every tensor in one arena; deterministic for the same input."""
    names = {t.name for t in tensors}
    for t in tensors:
        if t.size < 0 or t.first > t.last:
            raise FlynetError(f"tensor {t.name!r} has size {t.size} and lifetime {t.first}..{t.last}: not plannable")
        if t.overlap is not None:
            if t.overlap.tensor not in names:
                raise FlynetError(f"tensor {t.name!r} may overlap unknown tensor {t.overlap.tensor!r}")
            if t.alias_of is not None or t.overlap.offset > 0 or t.overlap.offset % alignment:
                raise FlynetError(f"tensor {t.name!r}: an overlap needs no alias and an offset <= 0, a multiple of "
                                  f"{alignment} (got {t.overlap.offset})")
    tensors = list(tensors)
    options = sorted(t.name for t in tensors if t.overlap is not None)
    taken = _choose_overlaps(tensors, options, alignment) if options else frozenset()
    chosen = _plan(tensors, taken, alignment, True)
    if taken:
        # The thorough search may do better without overlaps than the fast one suggested: keep the smaller.
        plain = _plan(tensors, frozenset(), alignment, True)
        chosen = min([chosen, plain], key=lambda a: a.key)
    by_name = {t.name: t for t in tensors}
    return MemoryPlan(
        tensors=list(tensors),
        offsets=chosen.offsets,
        arena_bytes=chosen.arena,
        alignment=alignment,
        blocks=chosen.blocks,
        strategy=chosen.strategy,
        overlaps={name: by_name[name].overlap for name in sorted(chosen.taken)},
    )


def _alias_root(tensors: dict[str, PlanTensor], name: str) -> str:
    while tensors[name].alias_of is not None:
        name = tensors[name].alias_of
    return name


def plan_conflicts(plan: MemoryPlan) -> list[tuple[str, str]]:
    """Pairs of tensors alive together that share bytes without leave (should be none): leave is an alias
    (a view, an in-place output: same alias root) or an overlap the plan took, at its offset."""
    by_name = {t.name: t for t in plan.tensors}
    allowed = {frozenset((name, option.tensor)) for name, option in plan.overlaps.items()
               if plan.offsets[name] - plan.offsets[option.tensor] == option.offset}
    conflicts = []
    items = sorted(plan.tensors, key=lambda t: t.name)
    for i, a in enumerate(items):
        a_start = plan.offsets[a.name]
        for b in items[i + 1 :]:
            if not lifetimes_overlap(a, b) or not a.size or not b.size:
                continue
            b_start = plan.offsets[b.name]
            if not (a_start < b_start + b.size and b_start < a_start + a.size):
                continue
            if _alias_root(by_name, a.name) == _alias_root(by_name, b.name) or frozenset((a.name, b.name)) in allowed:
                continue
            conflicts.append((a.name, b.name))
    return conflicts
