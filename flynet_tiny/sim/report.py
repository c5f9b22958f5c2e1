"""Per-layer report of an emulation run: counts by class and the latency estimate."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..reporting import format_table
from ..targets import Target
from .latency import core_timing, estimate_latency
from .qemu import RunResult

TABLE_CLASSES = ("load_store", "mul_dsp", "alu", "branch", "fpu", "divide", "other")


def layer_records(result: RunResult, target: Target) -> list[dict[str, Any]]:
    records = []
    for layer in result.layers:
        estimate = estimate_latency(layer.classes, target) if layer.instructions is not None else None
        records.append({
            "seq": layer.seq, "index": layer.index, "name": layer.name,
            "instructions": layer.instructions, "classes": layer.classes,
            "estimated_cycles": round(estimate.cycles) if estimate else None,
            "estimated_ms": estimate.ms if estimate else None,
        })
    return records


def emulation_json(result: RunResult, target: Target) -> dict[str, Any]:
    total = estimate_latency(result.total_classes, target) if result.total_instructions is not None else None
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
        "layers": layer_records(result, target),
        "latency_model": core_timing(target).source,
        "console": result.console,
    }


def emulation_table(result: RunResult, target: Target) -> str:
    rows = []
    for record in layer_records(result, target):
        counts = [record["classes"].get(c, "-") for c in TABLE_CLASSES]
        rows.append([record["index"], record["name"], record["instructions"] if record["instructions"] is not None else "-",
                     *counts, record["estimated_cycles"] if record["estimated_cycles"] is not None else "-",
                     f"{record['estimated_ms']:.3f}" if record["estimated_ms"] is not None else "-"])
    lines = [result.console.rstrip()] if result.console.strip() else []
    if rows:
        lines.append(format_table(["layer", "name", "instr", *TABLE_CLASSES, "est cycles", "est ms"], rows,
                                  "rl" + "r" * (len(TABLE_CLASSES) + 3)))
    if result.total_instructions is not None:
        total = estimate_latency(result.total_classes, target)
        lines.append(f"whole run: {result.total_instructions:,} instructions, ~{total.ms:.3f} ms on "
                     f"{target.board} at {target.clock_hz // 1_000_000} MHz ({core_timing(target).source})")
    return "\n".join(lines)
