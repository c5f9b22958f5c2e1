"""The board's memory system for the plugin's cycle model: the `[timing]` table of a board file.

    timing = board_timing(load_target("f446re"))     # a build target, at its QEMU addresses
    timing = board_timing_file("benchmarks/boards/nucleo_l4r5zi.toml")  # a measurement-only board
    timing.plugin_args()   # core=m4,prefetch=1,icache=...,region=0x8000000:0x8080000:flash:5,...

`[timing]` says how each memory region is reached (`path`: "flash" through the flash
accelerator or L1 cache, "ram", "tcm") and what a miss costs (`miss_cycles`, extra cycles over
a hit), plus the instruction / data cache geometry and whether sequential instruction lines are
prefetched. Where code, weights, arena and stack sit is the board's `[placement]`. Emulation
builds link at the QEMU machine's addresses (`[emulator] region_origins`); the regions passed to
the plugin are at those addresses, so each QEMU address is timed as the board memory it stands
for. docs/latency-model.md gives the numbers and their sources.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..build.linker_script import TEST_INPUTS_REGION, memory_regions
from ..errors import FlynetError
from ..targets import Target

CORE_MODELS = {"cortex-m4": "m4", "cortex-m7": "m7"}
PATHS = ("flash", "ram", "tcm")


@dataclass(frozen=True)
class TimedRegion:
    name: str
    lo: int
    hi: int
    path: str
    miss_cycles: int


@dataclass(frozen=True)
class BoardTiming:
    board: str
    core: str
    clock_hz: int
    prefetch: bool
    icache: tuple[int, int, int]  # sets, ways, line bytes
    dcache: tuple[int, int, int]
    regions: tuple[TimedRegion, ...]
    placement: dict[str, str]
    source: Path

    def plugin_args(self) -> list[str]:
        args = [f"core={CORE_MODELS[self.core]}", f"prefetch={int(self.prefetch)}",
                "icache={}:{}:{}".format(*self.icache), "dcache={}:{}:{}".format(*self.dcache)]
        args += [f"region=0x{r.lo:x}:0x{r.hi:x}:{r.path}:{r.miss_cycles}" for r in self.regions]
        return args

    def region(self, name: str) -> TimedRegion:
        return next(r for r in self.regions if r.name == name)


def _cache(raw: Mapping, key: str, source: Path) -> tuple[int, int, int]:
    cache = raw.get(key)
    try:
        geometry = (int(cache["sets"]), int(cache["ways"]), int(cache["line_bytes"]))
    except (TypeError, KeyError, ValueError):
        raise FlynetError(f"{source.name}: [timing] {key} needs sets, ways and line_bytes") from None
    if min(geometry) < 1 or geometry[2] & (geometry[2] - 1):
        raise FlynetError(f"{source.name}: [timing] {key} = {geometry}: sizes must be positive, the line a power of two")
    return geometry


def _timing_table(raw: Mapping, source: Path) -> Mapping:
    timing = raw.get("timing")
    if not isinstance(timing, Mapping):
        raise FlynetError(f"{source.name} has no [timing] table: the pipeline latency model needs one "
                          "(see docs/latency-model.md)")
    if raw.get("core") not in CORE_MODELS:
        raise FlynetError(f"{source.name}: core {raw.get('core')!r} has no pipeline model "
                          f"(known: {', '.join(CORE_MODELS)})")
    return timing


def _timed_regions(timing: Mapping, placed: list[tuple[str, int, int, str]], source: Path) -> tuple[TimedRegion, ...]:
    """`placed`: (name, origin, length, kind) at the addresses the firmware runs at."""
    described = timing.get("regions", {})
    flash_like = next((v for k, v in described.items() if v.get("path") == "flash"), None)
    regions = []
    for name, origin, length, _ in placed:
        entry = described.get(name, flash_like if name == TEST_INPUTS_REGION else None)
        if entry is None:
            raise FlynetError(f"{source.name}: [timing.regions] has no entry for memory region {name}")
        path, miss = entry.get("path"), entry.get("miss_cycles")
        if path not in PATHS or not isinstance(miss, int) or miss < 0:
            raise FlynetError(f"{source.name}: [timing.regions] {name} needs path = one of {', '.join(PATHS)} "
                              f"and miss_cycles >= 0, got {dict(entry)}")
        regions.append(TimedRegion(name, origin, origin + length, path, miss))
    return tuple(regions)


def _board_timing(raw: Mapping, placed: list[tuple[str, int, int, str]], source: Path) -> BoardTiming:
    timing = _timing_table(raw, source)
    return BoardTiming(
        board=str(raw.get("board", source.stem)), core=raw["core"], clock_hz=int(raw["clock_hz"]),
        prefetch=bool(timing.get("prefetch", False)),
        icache=_cache(timing, "icache", source), dcache=_cache(timing, "dcache", source),
        regions=_timed_regions(timing, placed, source), placement=dict(raw.get("placement", {})), source=source,
    )


def board_timing(target: Target) -> BoardTiming:
    """The timing of a build target's board, at the addresses of its QEMU emulation builds."""
    raw = tomllib.loads(target.source.read_text())
    placed = [(r.name, r.origin, r.length, r.kind) for r in memory_regions(target, emulation=True)]
    return _board_timing(raw, placed, target.source)


def board_timing_file(path: Path | str) -> BoardTiming:
    """The timing of a board described only for measurement (not a build target), at its own
    addresses moved by its `[emulator] region_origins`."""
    path = Path(path)
    if not path.is_file():
        raise FlynetError(f"board file {path} not found")
    raw = tomllib.loads(path.read_text())
    origins = raw.get("emulator", {}).get("region_origins", {})
    placed = [(m["name"], int(origins.get(m["name"], m["origin"])), int(m["length"]), m["kind"])
              for m in raw.get("memory", [])]
    return _board_timing(raw, placed, path)
