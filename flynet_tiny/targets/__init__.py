"""Board targets, read from one TOML data file per board beside this module."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FlynetError
from ..resources import TARGETS_DIR


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    origin: int
    length: int
    kind: str  # "flash" or "ram"


@dataclass(frozen=True)
class Target:
    name: str
    board: str
    mcu: str
    core: str
    arch_flags: tuple[str, ...]
    clock_hz: int
    hse_hz: int
    flash_wait_states: int
    has_dsp: bool
    has_cache: bool
    memory: tuple[MemoryRegion, ...]
    placement: dict[str, str]
    uart: dict[str, object]
    emulator: dict[str, object]
    source: Path = field(compare=False)

    def region(self, name: str) -> MemoryRegion:
        for region in self.memory:
            if region.name == name:
                return region
        raise FlynetError(f"target {self.name} has no memory region {name!r}")

    @property
    def flash_bytes(self) -> int:
        return sum(r.length for r in self.memory if r.kind == "flash")

    @property
    def sram_bytes(self) -> int:
        """Data SRAM (ITCM RAM holds code, so it is not counted)."""
        return sum(r.length for r in self.memory if r.kind == "ram" and r.name != "ITCM")


def _targets_dir() -> Path:
    return TARGETS_DIR


def target_names() -> list[str]:
    return sorted(p.stem for p in _targets_dir().glob("*.toml"))


def load_target(name: str) -> Target:
    key = name.lower()
    path = _targets_dir() / f"{key}.toml"
    if not path.is_file():
        raise FlynetError(f"unknown target {name!r}: choose one of {', '.join(target_names())}")
    raw = tomllib.loads(path.read_text())
    return Target(
        name=raw["name"],
        board=raw["board"],
        mcu=raw["mcu"],
        core=raw["core"],
        arch_flags=tuple(raw["arch_flags"]),
        clock_hz=int(raw["clock_hz"]),
        hse_hz=int(raw["hse_hz"]),
        flash_wait_states=int(raw["flash_wait_states"]),
        has_dsp=bool(raw["has_dsp"]),
        has_cache=bool(raw["has_cache"]),
        memory=tuple(MemoryRegion(**m) for m in raw["memory"]),
        placement=dict(raw["placement"]),
        uart=dict(raw["uart"]),
        emulator=dict(raw["emulator"]),
        source=path,
    )


def all_targets() -> list[Target]:
    return [load_target(n) for n in target_names()]
