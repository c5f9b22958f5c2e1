"""How a `flynet-tiny bench` result reads: terminal table, Markdown report and the latency PNG."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from ..reporting import atomic_write_bytes, atomic_write_text, format_table, relocated
from .bench import BenchResult
from .latency import core_timing

HEADERS = ["#", "layer", "op", "in -> out", "MACs", "instr", "instr/MAC", "est cycles", "est ms", "%"]


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def _rows(result: BenchResult) -> list[list]:
    rows = []
    for layer in result.layers:
        shapes = " + ".join(_shape(s) for s in layer["input_shapes"]) or "-"
        per_mac = f"{layer['instr_per_mac']:.2f}" if layer["instr_per_mac"] is not None else "-"
        rows.append([layer["index"], layer["name"], layer["op"], f"{shapes} -> {_shape(layer['output_shape'])}",
                     f"{layer['macs']:,}", f"{layer['instructions']:,.0f}", per_mac,
                     f"{layer['estimated_cycles']:,.0f}", f"{layer['estimated_ms']:.3f}", f"{layer['percent']:.1f}"])
    t = result.totals
    rows.append(["", "total", "", "", f"{t['macs']:,}", f"{t['instructions']:,.0f}",
                 f"{t['instr_per_mac']:.2f}" if t["instr_per_mac"] else "-", f"{t['estimated_cycles']:,.0f}",
                 f"{t['estimated_ms']:.3f}", "100.0"])
    return rows


def summary_lines(result: BenchResult) -> list[str]:
    t, m, target = result.totals, result.memory, result.target
    return [
        f"{result.model} on {target.board} ({target.core} at {target.clock_hz // 1_000_000} MHz), emulated on QEMU "
        f"{target.emulator['qemu_machine']}; {result.input_source}; -O{'s' if result.opt == 'size' else '2'}",
        f"per inference: {t['instructions']:,.0f} instructions, ~{t['estimated_ms']:.3f} ms "
        f"(~{t['inferences_per_s']:.1f} inferences/s); arena {m['arena_bytes']:,} B, weights {m['weight_bytes']:,} B, "
        f"flash {m['flash_bytes']:,} B without the test inputs",
        f"checks: outputs bit-exact vs host build and TFLM on {result.inputs} inputs, per-layer checksums equal, "
        f"instruction counts identical across {result.runs} runs",
        f"latency model: {core_timing(target).source}; weights read once from flash at "
        f"{target.flash_wait_states} wait states (docs/latency-model.md)",
    ]


def bench_table(result: BenchResult) -> str:
    return "\n".join([format_table(HEADERS, _rows(result), "rlllrrrrrr"), *summary_lines(result)])


def bench_markdown(result: BenchResult) -> str:
    def line(cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    lines = [f"# Bench: {result.model} on {result.target.name}", "", *[f"- {s}" for s in summary_lines(result)], "",
             line(HEADERS), line(["---"] * len(HEADERS)), *[line(r) for r in _rows(result)], ""]
    if result.files.get("plot"):
        where = os.path.relpath(result.files["plot"], os.path.dirname(result.files["markdown"]))
        lines += [f"![per-layer latency]({where})", ""]
    return "\n".join(lines)


def latency_png(result: BenchResult) -> bytes:
    """Horizontal bars: estimated ms per layer, in execution order (views, which run no code, left out)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = [l for l in result.layers if l["instructions"]]
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.28 * len(layers) + 1.2)))
    labels = [f"{l['index']} {l['op'].lower()} {l['name'][:28]}" for l in layers]
    ax.barh(range(len(layers)), [l["estimated_ms"] for l in layers], color="tab:blue")
    ax.set_yticks(range(len(layers)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("estimated ms per inference")
    ax.set_title(f"{result.model} on {result.target.board}: {result.totals['estimated_ms']:.2f} ms total "
                 f"({result.target.core}, {result.target.clock_hz // 1_000_000} MHz)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def write_bench_reports(result: BenchResult, out_dir: Path | str, plot: Path | str | None = None,
                        staging: Path | str | None = None) -> dict:
    """report.json, report.md and the latency PNG (default out_dir/latency.png), each written atomically.
    With `staging` (the folder that becomes out_dir later), files under out_dir are written there instead."""
    out_dir = Path(out_dir)
    plot_path = Path(plot) if plot else out_dir / "latency.png"
    result.files = {"json": str(out_dir / "report.json"), "markdown": str(out_dir / "report.md"), "plot": str(plot_path)}

    def place(path: Path) -> Path:
        return relocated(path, out_dir, Path(staging)) if staging is not None else path

    png = latency_png(result)
    atomic_write_bytes(place(plot_path), png)
    atomic_write_text(place(out_dir / "report.md"), bench_markdown(result))
    atomic_write_text(place(out_dir / "report.json"), json.dumps(result.to_json(), indent=2) + "\n")
    return result.files
