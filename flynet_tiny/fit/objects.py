"""What a set of Arm object files puts in the firmware, read without linking them.

Objects are compiled with -ffunction-sections -fdata-sections, so every function and every
variable is its own section, and the linker's --gc-sections keeps exactly the sections
reachable through relocations from the entry point. `reachable_sections` repeats that walk
over the objects' section tables and relocations (read with pyelftools: build/elf.py), so the code a
model pulls in is known from the kernels it calls before anything is linked. The same
relocations give the call graph; with the per-function frames of -fstack-usage (`.su` files
beside the objects) `deepest_stack` finds the deepest call chain.

Parsed objects are plain dicts, so a calibration can keep them as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..build.elf import open_elf, relocations, sections, symbols
from ..errors import FlynetError

_STACK_USAGE = re.compile(r"^(?:.*:)?([A-Za-z_][\w.$]*)\t(\d+)\t(\S+)")
CALL_RELOCATIONS = {"R_ARM_THM_CALL", "R_ARM_THM_JUMP24", "R_ARM_THM_JUMP19", "R_ARM_CALL", "R_ARM_JUMP24"}
# Section kinds that take room in the image (code, constants, data, init / fini tables, unwind index).
_IMAGE_KINDS = {"SHT_PROGBITS", "SHT_NOBITS", "SHT_INIT_ARRAY", "SHT_FINI_ARRAY", "SHT_ARM_EXIDX"}
_SYMBOL_KINDS = {"STT_FUNC": "FUNC", "STT_OBJECT": "OBJECT", "STT_NOTYPE": "NOTYPE"}


def parse_object(path: Path | str) -> dict:
    """Sections (allocated ones), symbols and relocations of one object, plus its .su frames if present."""
    path = Path(path)
    with open_elf(path, hint="pass an object compiled by arm-none-eabi-gcc") as elf:
        all_sections = sections(elf)
        all_symbols = symbols(elf)
        all_relocations = relocations(elf)
    kept_sections = [{"name": s.name, "size": s.size, "align": max(s.align, 1), "writable": s.writable,
                      "nobits": s.nobits} for s in all_sections if s.allocated and s.kind in _IMAGE_KINDS]
    # $t / $d are Arm mapping symbols (they mark code and data), not names.
    object_symbols = [{"name": s.name, "size": s.size, "kind": _SYMBOL_KINDS[s.kind],
                       "bind": s.bind.removeprefix("STB_"), "section": s.section}
                      for s in all_symbols
                      if s.section is not None and s.kind in _SYMBOL_KINDS and s.name and not s.name.startswith("$")]
    su = path.with_suffix(".su")
    frames = {}
    if su.is_file():
        for line in su.read_text().splitlines():
            if m := _STACK_USAGE.match(line):
                frames[m[1]] = {"bytes": int(m[2]), "kind": m[3]}
    kept = {s["name"] for s in kept_sections}
    return {"path": str(path), "sections": kept_sections, "symbols": object_symbols,
            "relocations": {k: v for k, v in all_relocations.items() if k in kept}, "frames": frames}


@dataclass(frozen=True)
class SectionRef:
    object: str  # the object's path
    section: str  # section name inside it


class ObjectSet:
    """Objects as the linker sees them: global symbols resolve across objects, strong over weak."""

    def __init__(self, objects: list[dict]):
        self.objects = {o["path"]: o for o in objects}
        self.sections = {SectionRef(o["path"], s["name"]): s for o in objects for s in o["sections"]}
        self.globals: dict[str, SectionRef] = {}
        strength: dict[str, int] = {}
        for o in objects:
            for s in o["symbols"]:
                if s["bind"] in ("GLOBAL", "WEAK"):
                    rank = 2 if s["bind"] == "GLOBAL" else 1
                    if rank > strength.get(s["name"], 0):
                        strength[s["name"]] = rank
                        self.globals[s["name"]] = SectionRef(o["path"], s["section"])

    def resolve(self, obj: dict, name: str) -> SectionRef | None:
        """Where a relocation's symbol lives: a section of `obj`, a local symbol, a global one; None if external."""
        if any(s["name"] == name for s in obj["sections"]):
            return SectionRef(obj["path"], name)
        for s in obj["symbols"]:
            if s["name"] == name and s["bind"] == "LOCAL":
                return SectionRef(obj["path"], s["section"])
        return self.globals.get(name)

    def references(self, ref: SectionRef, kinds: set[str] | None = None) -> tuple[list[SectionRef], set[str]]:
        """Sections a section refers to (optionally only through `kinds` of relocation), and external names."""
        obj = self.objects[ref.object]
        inside, external = [], set()
        for kind, name in obj["relocations"].get(ref.section, []):
            if kinds is not None and kind not in kinds:
                continue
            target = self.resolve(obj, name)
            if target is None:
                external.add(name)
            elif target in self.sections:
                inside.append(target)
        return inside, external

    def symbol(self, name: str) -> SectionRef | None:
        return self.globals.get(name)

    def reachable_sections(self, roots: list[SectionRef]) -> tuple[set[SectionRef], set[str]]:
        """The sections --gc-sections keeps starting from `roots`, and the external symbols they need."""
        seen: set[SectionRef] = set()
        external: set[str] = set()
        stack = [r for r in roots if r in self.sections]
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            inside, outside = self.references(ref)
            external |= outside
            stack.extend(r for r in inside if r not in seen)
        return seen, external

    def function_of(self, ref: SectionRef) -> str | None:
        for s in self.objects[ref.object]["symbols"]:
            if s["section"] == ref.section and s["kind"] == "FUNC":
                return s["name"]
        return None

    def deepest_stack(self, root: str) -> "StackChain":
        """The call chain from function `root` with the most stack, from -fstack-usage frames.

        Frames of functions without .su data (libc, assembly) count as zero and are listed;
        a recursive cycle or a dynamic frame makes the bound unknown and is named."""
        start = self.symbol(root)
        if start is None:
            raise FlynetError(f"function {root!r} is not defined in the firmware objects")
        memo: dict[SectionRef, tuple[int, list[str]]] = {}
        unmeasured: set[str] = set()
        problems: list[str] = []

        def visit(ref: SectionRef, path: tuple[SectionRef, ...]) -> tuple[int, list[str]]:
            if ref in memo:
                return memo[ref]
            name = self.function_of(ref) or ref.section
            if ref in path:
                problems.append(f"recursion through {name}")
                return 0, []
            frames = self.objects[ref.object]["frames"]
            # -fstack-usage names a clone `f.constprop` where the symbol is `f.constprop.0`.
            frame = frames.get(name) or frames.get(re.sub(r"\.\d+$", "", name))
            if frame is None:
                unmeasured.add(name)
            elif frame["kind"] != "static":
                problems.append(f"{name} has a {frame['kind']} frame")
            own = frame["bytes"] if frame else 0
            callees, external = self.references(ref, CALL_RELOCATIONS)
            unmeasured.update(external)
            best, chain = 0, []
            for callee in callees:
                depth, sub = visit(callee, path + (ref,))
                if depth > best:
                    best, chain = depth, sub
            memo[ref] = (own + best, [f"{name} ({own})", *chain])
            return memo[ref]

        depth, chain = visit(start, ())
        return StackChain(depth, chain, sorted(unmeasured), problems)


@dataclass(frozen=True)
class StackChain:
    bytes: int
    chain: list[str]  # "function (frame bytes)" from the root down
    unmeasured: list[str]  # functions on some path with no -fstack-usage data (libc, assembly)
    problems: list[str]  # recursion or dynamic frames: the bound is not exact


def aligned_size(section: dict, start: int = 0) -> int:
    """Bytes a section adds after `start` once aligned (the linker packs input sections in order)."""
    align = section["align"]
    return (-start) % align + section["size"]


def packed_bytes(sections: list[dict]) -> int:
    """Total size of sections placed one after the other with their alignment, from offset 0."""
    end = 0
    for section in sections:
        end += aligned_size(section, end)
    return end
