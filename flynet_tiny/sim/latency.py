"""Latency models: estimated core cycles of an emulated run, two ways.

`pipeline`: the counting plugin's timing model follows the executed
instruction stream through the core's pipeline and the board's caches and flash
(firmware/qemu_plugin/fn_timing.c, board data in the target's [timing]); the run carries
its cycles per layer and this module only turns them into milliseconds:

    estimate = pipeline_latency(layer.model_cycles.cycles, layer.model_cycles.memory_stalls, target.clock_hz)

`classes` (the default until the pipeline model is validated against hardware, see
docs/latency-model.md): a cost per instruction class times the class counts, plus the wait
states of one pass over the layer's weights in flash:

    estimate = estimate_latency(layer.classes, target, flash_bytes_read=weights_in_flash)
    cycles = sum(count[class] * cycles_per_class[core][class])
           + ceil(flash_bytes_read / flash_line_bytes) * target.flash_wait_states

The costs, the assumptions and each model's measured error are in docs/latency-model.md.
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


LATENCY_MODELS = ("pipeline", "classes")
# The pipeline model becomes the default once a published hardware measurement of a build we can
# reproduce validates it (docs/latency-model.md, "Calibration").
DEFAULT_LATENCY_MODEL = "classes"
PIPELINE_SOURCE = ("pipeline model of the executed stream (Cortex-M4 TRM timings; Cortex-M7 from Arm's LLVM "
                   "scheduling model and published measurements) with the board's caches and flash")


@dataclass(frozen=True)
class LatencyEstimate:
    core_cycles: float  # classes: from the instruction mix; pipeline: the core's cycles
    flash_stall_cycles: float  # classes: weights streamed from flash; pipeline: every memory stall
    clock_hz: int

    @property
    def cycles(self) -> float:
        return self.core_cycles + self.flash_stall_cycles

    @property
    def ms(self) -> float:
        return self.cycles / self.clock_hz * 1e3


def pipeline_latency(cycles: float, memory_stall_cycles: float, clock_hz: int) -> LatencyEstimate:
    """The plugin's pipeline-model cycles (memory stalls included in them) at the board clock."""
    if cycles < 0 or not 0 <= memory_stall_cycles <= cycles:
        raise FlynetError(f"pipeline cycles {cycles} with {memory_stall_cycles} memory stall cycles is not a run")
    return LatencyEstimate(cycles - memory_stall_cycles, memory_stall_cycles, clock_hz)


def model_source(target: Target, latency_model: str) -> str:
    """One line naming where a model's numbers come from."""
    check_latency_model(latency_model)
    return PIPELINE_SOURCE if latency_model == "pipeline" else core_timing(target).source


def check_latency_model(name: str) -> None:
    if name not in LATENCY_MODELS:
        raise FlynetError(f"unknown latency model {name!r}: choose one of {', '.join(LATENCY_MODELS)}")


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
