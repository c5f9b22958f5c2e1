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


def per_layer_means(result: RunResult) -> list[dict[str, Any]]:
    """One row per layer (index, name) in first-run order: runs, and the mean counts per run
    (a firmware running N inputs executes every layer N times)."""
    groups: dict[tuple[int, str], list] = {}
    for layer in result.layers:
        groups.setdefault((layer.index, layer.name), []).append(layer)
    rows = []
    for (index, name), runs in groups.items():
        counted = [r for r in runs if r.instructions is not None]
        classes = {c: sum(r.classes[c] for r in counted) / len(counted) for c in counted[0].classes} if counted else {}
        rows.append({"index": index, "name": name, "runs": len(runs), "counted_runs": len(counted),
                     "instructions": sum(classes.values()) if counted else None, "classes": classes})
    return rows


def emulation_table(result: RunResult, target: Target) -> str:
    rows = []
    for layer in per_layer_means(result):
        if layer["instructions"] is None:
            rows.append([layer["index"], layer["name"], layer["runs"], "-", *["-"] * len(TABLE_CLASSES), "-", "-"])
            continue
        estimate = estimate_latency(layer["classes"], target)
        rows.append([layer["index"], layer["name"], layer["runs"], f"{layer['instructions']:,.0f}",
                     *[f"{layer['classes'].get(c, 0):,.0f}" for c in TABLE_CLASSES],
                     f"{estimate.cycles:,.0f}", f"{estimate.ms:.3f}"])
    lines = [result.console.rstrip()] if result.console.strip() else []
    if rows:
        lines.append("per layer, mean of its runs:")
        lines.append(format_table(["layer", "name", "runs", "instr", *TABLE_CLASSES, "est cycles", "est ms"], rows,
                                  "rlr" + "r" * (len(TABLE_CLASSES) + 3)))
    if result.total_instructions is not None:
        total = estimate_latency(result.total_classes, target)
        lines.append(f"whole run: {result.total_instructions:,} instructions, ~{total.ms:.3f} ms on "
                     f"{target.board} at {target.clock_hz // 1_000_000} MHz ({core_timing(target).source})")
    return "\n".join(lines)
