"""How a `flynet-tiny bench` result reads: terminal table, Markdown report and the latency PNG."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from ..reporting import atomic_write_bytes, atomic_write_text, format_table, relocated
from .bench import BenchResult
from .latency import model_source

HEADERS = ["#", "layer", "op", "in -> out", "MACs", "instr", "instr/MAC", "est cycles", "pipeline ms", "classes ms", "%"]


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def _rows(result: BenchResult) -> list[list]:
    rows = []
    for layer in result.layers:
        shapes = " + ".join(_shape(s) for s in layer["input_shapes"]) or "-"
        per_mac = f"{layer['instr_per_mac']:.2f}" if layer["instr_per_mac"] is not None else "-"
        rows.append([layer["index"], layer["name"], layer["op"], f"{shapes} -> {_shape(layer['output_shape'])}",
                     f"{layer['macs']:,}", f"{layer['instructions']:,.0f}", per_mac,
                     f"{layer['estimated_cycles']:,.0f}", f"{layer['pipeline_ms']:.3f}", f"{layer['classes_ms']:.3f}",
                     f"{layer['percent']:.1f}"])
    t = result.totals
    rows.append(["", "total", "", "", f"{t['macs']:,}", f"{t['instructions']:,.0f}",
                 f"{t['instr_per_mac']:.2f}" if t["instr_per_mac"] else "-", f"{t['estimated_cycles']:,.0f}",
                 f"{t['pipeline_ms']:.3f}", f"{t['classes_ms']:.3f}", "100.0"])
    return rows


def summary_lines(result: BenchResult) -> list[str]:
    t, m, target = result.totals, result.memory, result.target
    return [
        f"{result.model} on {target.board} ({target.core} at {target.clock_hz // 1_000_000} MHz), emulated on QEMU "
        f"{target.emulator['qemu_machine']}; {result.input_source}; -O{'s' if result.opt == 'size' else '2'}",
        f"per inference: {t['instructions']:,.0f} instructions, ~{t['estimated_ms']:.3f} ms by the "
        f"{result.latency_model} model (~{t['inferences_per_s']:.1f} inferences/s; pipeline {t['pipeline_ms']:.3f} ms, "
        f"classes {t['classes_ms']:.3f} ms); arena {m['arena_bytes']:,} B, weights {m['weight_bytes']:,} B, "
        f"flash {m['flash_bytes']:,} B without the test inputs",
        f"checks: outputs bit-exact vs host build and TFLM on {result.inputs} inputs, per-layer checksums equal, "
        f"instruction counts identical across {result.runs} runs",
        f"latency model ({result.latency_model}): {model_source(target, result.latency_model)} "
        f"(docs/latency-model.md gives both models and their measured error)",
    ]


def bench_table(result: BenchResult) -> str:
    return "\n".join([format_table(HEADERS, _rows(result), "rlllrrrrrrr"), *summary_lines(result)])


def bench_markdown(result: BenchResult) -> str:
    def line(cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    lines = [f"# Bench: {result.model} on {result.target.name}", "", *[f"- {s}" for s in summary_lines(result)], "",
             line(HEADERS), line(["---"] * len(HEADERS)), *[line(r) for r in _rows(result)], ""]
    if result.files.get("plot"):
        where = os.path.relpath(result.files["plot"], os.path.dirname(result.files["markdown"]))
        lines += [f"![per-layer latency]({where})", ""]
    return "\n".join(lines)


TOP_LAYERS = 24  # layers drawn one by one; the rest are summed into one bar


def _layer_bars(layers: list[dict]) -> list[tuple[str, float]]:
    """(label, ms): every layer in execution order when there are few, else the slowest TOP_LAYERS, slowest
    first, and one bar summing the rest."""
    def label(layer: dict) -> str:
        return f"#{layer['index']} {layer['op'].lower()}  {layer['name'][:32]}"

    if len(layers) <= TOP_LAYERS + 1:
        return [(label(l), l["estimated_ms"]) for l in layers]
    ranked = sorted(layers, key=lambda l: -l["estimated_ms"])
    rest = ranked[TOP_LAYERS:]
    return [(label(l), l["estimated_ms"]) for l in ranked[:TOP_LAYERS]] + \
        [(f"the other {len(rest)} layers", sum(l["estimated_ms"] for l in rest))]


def _op_bars(layers: list[dict]) -> list[tuple[str, float]]:
    """(label, ms) per op kind, largest first, with the number of layers of that kind."""
    totals: dict[str, list[float]] = {}
    for layer in layers:
        totals.setdefault(layer["op"].lower(), []).append(layer["estimated_ms"])
    ranked = sorted(totals.items(), key=lambda kv: -sum(kv[1]))
    return [(f"{op} ({len(times)} layer{'s' * (len(times) > 1)})", sum(times)) for op, times in ranked]


def _draw_bars(ax, bars: list[tuple[str, float]], total: float, color: str, latency_model: str) -> None:
    values = [ms for _, ms in bars]
    ax.barh(range(len(bars)), values, color=color)
    ax.set_yticks(range(len(bars)), [name for name, _ in bars], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(f"estimated ms per inference ({latency_model} model)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlim(0, max(values) * 1.5)  # room for the value labels
    for i, ms in enumerate(values):
        ax.text(ms, i, f" {ms:.2f} ms ({100 * ms / total:.0f}%)" if total else f" {ms:.2f}", va="center", fontsize=8)


def latency_png(result: BenchResult) -> bytes:
    """Two panels of horizontal bars, estimated ms: the slowest layers (the rest summed in one bar; every layer
    when there are few), and the time per op kind (views, which run no code, left out). A fixed size, so a
    100-layer model reads as well as a 3-layer one."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = [l for l in result.layers if l["instructions"]]
    total = result.totals["estimated_ms"]
    by_layer, by_op = _layer_bars(layers), _op_bars(layers)
    rows = max(len(by_layer), len(by_op))
    fig, (ax_layers, ax_ops) = plt.subplots(1, 2, figsize=(15, max(4.0, 0.3 * rows + 1.8)),
                                            gridspec_kw={"width_ratios": [3, 2.3]})
    _draw_bars(ax_layers, by_layer, total, "tab:blue", result.latency_model)
    ax_layers.set_title("slowest layers" if len(by_layer) < len(layers) else "layers, in execution order",
                        fontsize=10)
    _draw_bars(ax_ops, by_op, total, "tab:orange", result.latency_model)
    ax_ops.set_title("by op kind", fontsize=10)
    fig.suptitle(f"{result.model} on {result.target.board} ({result.target.core}, "
                 f"{result.target.clock_hz // 1_000_000} MHz): {total:.2f} ms estimated, {len(layers)} layers",
                 fontsize=11)
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
