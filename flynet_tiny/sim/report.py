"""Per-layer report of an emulation run: counts by class and the latency estimate (the class
model; a run made with the plugin's timing model also carries the pipeline estimate)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

from ..build.linker_script import memory_regions
from ..reporting import format_table
from ..targets import Target
from .latency import core_timing, estimate_latency
from .qemu import RunResult
from .symbols import layer_constant_bytes

TABLE_CLASSES = ("load_store", "mul_dsp", "alu", "branch", "fpu", "divide", "other")


def layer_records(result: RunResult, target: Target, flash_bytes: Mapping[int, int]) -> list[dict[str, Any]]:
    records = []
    for layer in result.layers:
        estimate = (estimate_latency(layer.classes, target, flash_bytes.get(layer.index, 0))
                    if layer.instructions is not None else None)
        records.append({
            "seq": layer.seq, "index": layer.index, "name": layer.name,
            "instructions": layer.instructions, "classes": layer.classes,
            "flash_bytes_read": flash_bytes.get(layer.index, 0),
            "estimated_cycles": round(estimate.cycles) if estimate else None,
            "estimated_ms": estimate.ms if estimate else None,
        })
    return records


def weights_in_flash(elf: Path | str, target: Target) -> dict[int, int]:
    """Per layer index, the bytes of its constant arrays that an emulation build keeps in flash:
    each inference streams them once, which the latency model charges at the wait states."""
    region = next(r for r in memory_regions(target, emulation=True) if r.name == target.placement["weights"])
    return layer_constant_bytes(elf, region) if region.kind == "flash" else {}


def _total_estimate(result: RunResult, target: Target, flash_bytes: Mapping[int, int]):
    if result.total_instructions is None:
        return None
    streamed = sum(flash_bytes.get(layer.index, 0) for layer in result.layers if layer.instructions is not None)
    return estimate_latency(result.total_classes, target, streamed)


def emulation_json(result: RunResult, target: Target, flash_bytes: Mapping[int, int] | None = None) -> dict[str, Any]:
    flash_bytes = flash_bytes or {}
    total = _total_estimate(result, target, flash_bytes)
    return {
        "target": target.name,
        "qemu_machine": target.emulator["qemu_machine"],
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "fault": asdict(result.fault) if result.fault else None,
        "running_layer": list(result.running_layer) if result.running_layer else None,
        "total_instructions": result.total_instructions,
        "total_classes": result.total_classes,
        "total_estimated_ms": total.ms if total else None,
        "layers": layer_records(result, target, flash_bytes),
        "latency_model": core_timing(target).source,
        "console": result.console,
    }


def per_layer_means(result: RunResult) -> list[dict[str, Any]]:
    """One row per layer (index, name) in first-run order: runs, and the mean counts per run
    (a firmware running N inputs executes every layer N times); with the timing model, the mean
    pipeline cycles and stalls too (`model_cycles`, else None)."""
    groups: dict[tuple[int, str], list] = {}
    for layer in result.layers:
        groups.setdefault((layer.index, layer.name), []).append(layer)
    rows = []
    for (index, name), runs in groups.items():
        counted = [r for r in runs if r.instructions is not None]
        classes = {c: sum(r.classes[c] for r in counted) / len(counted) for c in counted[0].classes} if counted else {}
        timed = [asdict(r.model_cycles) for r in counted if r.model_cycles is not None]
        model_cycles = ({k: sum(t[k] for t in timed) / len(timed) for k in timed[0]}
                        if timed and len(timed) == len(counted) else None)
        rows.append({"index": index, "name": name, "runs": len(runs), "counted_runs": len(counted),
                     "instructions": sum(classes.values()) if counted else None, "classes": classes,
                     "model_cycles": model_cycles})
    return rows


def emulation_table(result: RunResult, target: Target, flash_bytes: Mapping[int, int] | None = None) -> str:
    flash_bytes = flash_bytes or {}
    rows = []
    for layer in per_layer_means(result):
        if layer["instructions"] is None:
            rows.append([layer["index"], layer["name"], layer["runs"], "-", *["-"] * len(TABLE_CLASSES), "-", "-", "-"])
            continue
        flash = flash_bytes.get(layer["index"], 0)
        estimate = estimate_latency(layer["classes"], target, flash)
        rows.append([layer["index"], layer["name"], layer["runs"], f"{layer['instructions']:,.0f}",
                     *[f"{layer['classes'].get(c, 0):,.0f}" for c in TABLE_CLASSES],
                     f"{flash:,}", f"{estimate.cycles:,.0f}", f"{estimate.ms:.3f}"])
    lines = [result.console.rstrip()] if result.console.strip() else []
    if rows:
        lines.append("per layer, mean of its runs:")
        lines.append(format_table(["layer", "name", "runs", "instr", *TABLE_CLASSES, "flash B", "est cycles", "est ms"],
                                  rows, "rlr" + "r" * (len(TABLE_CLASSES) + 4)))
    total = _total_estimate(result, target, flash_bytes)
    if total is not None:
        lines.append(f"whole run: {result.total_instructions:,} instructions, ~{total.ms:.3f} ms on "
                     f"{target.board} at {target.clock_hz // 1_000_000} MHz ({core_timing(target).source}; "
                     f"weights read once from flash at {target.flash_wait_states} wait states)")
    return "\n".join(lines)
