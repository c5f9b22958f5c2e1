"""Latency model: estimated core cycles from an executed-instruction mix.

    estimate = estimate_latency(layer.classes, target, flash_bytes_read=weights_in_flash)
    estimate.cycles, estimate.ms

cycles = sum(count[class] * cycles_per_class[core][class])
       + ceil(flash_bytes_read / flash_line_bytes) * target.flash_wait_states

The per-class costs and every assumption behind them are in docs/latency-model.md. The
first term assumes zero-wait-state instruction fetch (the kernels' loops sit in the ART
accelerator on the F446RE and in the L1 I-cache on the F746ZG); the second charges one
flash access, at the board's wait states, per cache line of weights streamed from flash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from ..errors import FlynetError
from ..targets import Target


@dataclass(frozen=True)
class CoreTiming:
    core: str
    cycles_per_class: dict[str, float]
    flash_line_bytes: int  # bytes one flash read brings into the cache on a data miss
    source: str


CORE_TIMINGS = {
    # Cortex-M4 TRM (ARM DDI 0439), "Processor instruction timings": ALU and all multiplies
    # incl. SMLAL / SMLAD 1; LDR / STR 2 (1 when pipelined behind another load / store);
    # taken branch 1 + P with P = 1..3 refill; SDIV / UDIV 2..12; VADD / VMUL 1, VMLA 3.
    "cortex-m4": CoreTiming(
        "cortex-m4",
        {"alu": 1.0, "load_store": 2.0, "mul_dsp": 1.0, "branch": 3.0, "fpu": 1.0, "divide": 7.0, "other": 1.0},
        flash_line_bytes=16,  # ART accelerator: 128-bit flash lines
        source="Cortex-M4 TRM (DDI 0439) instruction timings",
    ),
    # ARM publishes no per-instruction table for the Cortex-M7. Dual issue of two ALU
    # instructions, one load / store or multiply per cycle, predicted branches ~1 cycle:
    # public measurements (quinapalus.com "Cortex-M7 instruction cycle counts").
    "cortex-m7": CoreTiming(
        "cortex-m7",
        {"alu": 0.5, "load_store": 1.0, "mul_dsp": 1.0, "branch": 1.0, "fpu": 1.0, "divide": 7.0, "other": 1.0},
        flash_line_bytes=32,  # L1 D-cache line
        source="Cortex-M7 dual-issue estimates from published measurements (no ARM table)",
    ),
}


@dataclass(frozen=True)
class LatencyEstimate:
    core_cycles: float  # from the instruction mix
    flash_stall_cycles: float  # weights streamed from flash
    clock_hz: int

    @property
    def cycles(self) -> float:
        return self.core_cycles + self.flash_stall_cycles

    @property
    def ms(self) -> float:
        return self.cycles / self.clock_hz * 1e3


def core_timing(target: Target) -> CoreTiming:
    timing = CORE_TIMINGS.get(target.core)
    if timing is None:
        raise FlynetError(
            f"no timing table for core {target.core!r}: add one to flynet_tiny/sim/latency.py "
            f"(known: {', '.join(CORE_TIMINGS)})"
        )
    return timing


def estimate_latency(classes: Mapping[str, int], target: Target, flash_bytes_read: int = 0) -> LatencyEstimate:
    """Cycles and ms at the board clock for one instruction mix (a layer or a whole run)."""
    timing = core_timing(target)
    unknown = set(classes) - set(timing.cycles_per_class)
    if unknown:
        raise FlynetError(
            f"instruction classes {', '.join(sorted(unknown))} have no cost for {target.core}: "
            f"the counting plugin and flynet_tiny/sim/latency.py disagree"
        )
    if flash_bytes_read < 0:
        raise FlynetError(f"flash_bytes_read must be >= 0, got {flash_bytes_read}")
    core_cycles = sum(count * timing.cycles_per_class[name] for name, count in classes.items())
    lines = math.ceil(flash_bytes_read / timing.flash_line_bytes)
    return LatencyEstimate(core_cycles, float(lines * target.flash_wait_states), target.clock_hz)
