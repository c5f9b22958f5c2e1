"""The fit report: terminal tables, JSON for scripts, and the arena-over-layers PNG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from ..reporting import atomic_write_bytes, format_table
from .elf_sizes import ElfUsage
from .estimate import FitEstimate

TOP = 5


@dataclass(frozen=True)
class ArenaPoint:
    layer: int
    high_water: int  # highest arena byte in use while the layer runs (offset + size of live tensors)
    live: int        # bytes of the tensors alive while the layer runs


def arena_curve(estimate: FitEstimate) -> list[ArenaPoint]:
    plan = estimate.plan
    points = []
    for index in range(len(estimate.layers)):
        alive = [t for t in plan.tensors if t.first <= index <= t.last]
        # Bytes shared (views, in place, an output written over its input) count once.
        live, end = 0, 0
        for start, stop in sorted((plan.offsets[t.name], plan.offsets[t.name] + t.size) for t in alive):
            live += max(0, stop - max(start, end))
            end = max(end, stop)
        points.append(ArenaPoint(index, end, live))
    return points


def overlaps(estimate: FitEstimate) -> list[dict]:
    """Each output the plan writes over the input its layer reads: which, how many bytes, and why it is safe."""
    plan = estimate.plan
    return [{"tensor": name, "input": option.tensor, "offset": option.offset, "shared_bytes": plan.shared_bytes(name),
             "why": option.reason} for name, option in plan.overlaps.items()]


def arena_peak(estimate: FitEstimate) -> dict:
    """The layer where the arena is fullest and the tensors that live there."""
    curve = arena_curve(estimate)
    if not curve:
        return {}
    peak = max(curve, key=lambda p: (p.high_water, p.live))
    layer = estimate.layers[peak.layer]
    tensors = sorted((t for t in estimate.plan.tensors if t.first <= peak.layer <= t.last), key=lambda t: -t.size)
    return {"layer": peak.layer, "kind": layer.kind, "name": layer.name, "high_water": peak.high_water,
            "live": peak.live, "tensors": [{"name": t.name, "kind": t.kind, "bytes": t.size,
                                            "offset": estimate.plan.offsets[t.name], "layers": [t.first, t.last]}
                                           for t in tensors]}


def weights_by_layer(estimate: FitEstimate) -> list[dict]:
    per_layer: dict[int, int] = {}
    for array in estimate.weights:
        per_layer[array.layer] = per_layer.get(array.layer, 0) + array.bytes
    rows = []
    for index, size in sorted(per_layer.items(), key=lambda kv: -kv[1]):
        layer = estimate.layers[index] if 0 <= index < len(estimate.layers) else None
        rows.append({"layer": index, "kind": layer.kind if layer else "?", "name": layer.name if layer else "?",
                     "bytes": size, "share": size / estimate.weight_bytes if estimate.weight_bytes else 0.0})
    return rows


def fit_json(estimate: FitEstimate | None, elf: ElfUsage | None = None, margin: float = 0.0) -> dict:
    data: dict = {}
    if estimate is not None:
        data.update({
            "model": estimate.source, "target": estimate.target.name, "board": estimate.target.board,
            "opt": estimate.opt, "fits": estimate.fits(margin), "margin": margin, "problems": estimate.problems(margin),
            "regions": [{"name": r.name, "used": r.used, "size": r.size, "percent": round(r.percent, 2),
                         "headroom": r.headroom} for r in estimate.regions],
            "items": [{"name": i.name, "region": i.region, "bytes": i.bytes} for i in estimate.items],
            "arena_bytes": estimate.arena_bytes, "weight_bytes": estimate.weight_bytes,
            "input_bytes": estimate.input_bytes, "output_bytes": estimate.output_bytes,
            "input_in_arena": estimate.input_in_arena, "output_in_arena": estimate.output_in_arena,
            "ram_bytes": estimate.ram_bytes,
            "overlaps": overlaps(estimate),
            "top_weights": weights_by_layer(estimate)[:TOP], "arena_peak": arena_peak(estimate),
            "arena_per_layer": [{"layer": p.layer, "high_water": p.high_water, "live": p.live}
                                for p in arena_curve(estimate)],
            "stack": {"deepest_bytes": estimate.stack.bytes, "reserved": estimate.stack_reserved,
                      "chain": estimate.stack.chain, "unmeasured": estimate.stack.unmeasured,
                      "problems": estimate.stack.problems},
            "kernels": estimate.kernels, "library_extra": estimate.library_extra,
            "tflm_arena": estimate.tflm_arena,
        })
    if elf is not None:
        data["elf"] = {"path": str(elf.path), "emulation": elf.emulation,
                       "regions": {name: {"used": used, "size": elf.sizes[name]} for name, used in elf.regions.items()},
                       "flash_by_input": elf.by_input}
    return data


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


def fit_table(estimate: FitEstimate | None, elf: ElfUsage | None = None, margin: float = 0.0) -> str:
    out = []
    if estimate is None:
        return _elf_only(elf)
    out.append(f"{estimate.source} on {estimate.target.board} (-{'Os' if estimate.opt == 'size' else 'O2'})")
    headers = ["region", "used", "budget", "% used", "headroom"]
    rows = []
    for r in estimate.regions:
        row = [r.name, r.used, r.size, f"{r.percent:.1f}%", r.headroom]
        if elf is not None:
            real = elf.regions.get(r.name, 0)
            row += [real, f"{100 * (r.used - real) / real:+.2f}%" if real else "-"]
        rows.append(row)
    if elf is not None:
        headers += ["ELF used", "estimate vs ELF"]
    out.append(format_table(headers, rows, "lrrrr" + ("rr" if elf else "")))
    out.append("")
    out.append(format_table(["what", "region", "bytes"], [[i.name, i.region, i.bytes] for i in estimate.items], "llr"))
    top = weights_by_layer(estimate)[:TOP]
    if top:
        out.append("")
        out.append(f"largest weights ({estimate.weight_bytes:,} bytes in all):")
        out.append(format_table(["layer", "kind", "name", "bytes", "share"],
                                [[w["layer"], w["kind"], w["name"], w["bytes"], f"{100 * w['share']:.1f}%"] for w in top],
                                "rllrr"))
    peak = arena_peak(estimate)
    if peak:
        out.append("")
        out.append(f"arena {estimate.arena_bytes:,} bytes, fullest at layer {peak['layer']} ({peak['kind']} "
                   f"{peak['name']}): {peak['high_water']:,} bytes in use, tensors there:")
        shared = {o["tensor"]: o for o in overlaps(estimate)}
        out.append(format_table(["tensor", "kind", "bytes", "offset", "layers", "written over"],
                                [[t["name"], t["kind"], t["bytes"], t["offset"], f"{t['layers'][0]}..{t['layers'][1]}",
                                  f"{shared[t['name']]['shared_bytes']:,} B of {shared[t['name']]['input']}"
                                  if t["name"] in shared else ""]
                                 for t in peak["tensors"][:8]], "llrrll"))
    out += _memory_lines(estimate)
    stack = estimate.stack
    out.append("")
    out.append(f"stack: deepest call chain {stack.bytes:,} bytes of {estimate.stack_reserved:,} reserved: "
               + " > ".join(stack.chain))
    if stack.unmeasured:
        out.append(f"  frames not measured (libc, assembly): {', '.join(stack.unmeasured)}")
    for problem in stack.problems:
        out.append(f"  not a bound: {problem}")
    out.append("kernels linked: " + ", ".join(f"{k} ({v:,})" for k, v in estimate.kernels.items()))
    if estimate.tflm_arena:
        t = estimate.tflm_arena
        out.append(f"TFLite Micro arena for the same model: {t['total']:,} bytes (head {t['head']:,}, "
                   f"tail {t['tail']:,}); ours {estimate.arena_bytes:,}, with the I/O buffers {estimate.ram_bytes:,} "
                   f"({estimate.ram_bytes / t['total']:.2f}x)")
    if elf is not None and elf.by_input:
        out.append("")
        out.append(_by_input(elf))
    out.append("")
    problems = estimate.problems(margin)
    out.append("fits" + (f" with a {100 * margin:g}% margin" if margin else "") + f" on {estimate.target.board}"
               if not problems else f"does NOT fit {estimate.target.board}: " + "; ".join(problems))
    return "\n".join(out)


def _memory_lines(estimate: FitEstimate) -> list[str]:
    """The input's place, the RAM the model needs with its I/O buffers, and the outputs written over inputs."""
    lines = [f"arena + I/O buffers: {estimate.ram_bytes:,} bytes (input {estimate.input_bytes:,} "
             + ("in the arena: write it at flynet_input_buffer(0)" if estimate.input_in_arena else "in your buffer")
             + f", output {estimate.output_bytes:,} "
             + ("in the arena: read it at flynet_output_buffer(0))" if estimate.output_in_arena else "in your buffer)")]
    shared = overlaps(estimate)
    if shared:
        lines.append(f"{len(shared)} outputs written over the input their layer reads ({sum(o['shared_bytes'] for o in shared):,}"
                     " bytes shared; each kernel reads an input byte for the last time before it writes there; "
                     "memory_plan.json names them):")
        for o in sorted(shared, key=lambda o: -o["shared_bytes"])[:TOP]:
            lines.append(f"  {o['tensor']}: {o['shared_bytes']:,} B of {o['input']}, starting {-o['offset']:,} B "
                         f"below it ({o['why']})")
    return lines


def _by_input(elf: ElfUsage) -> str:
    rows = [[name, size] for name, size in list(elf.by_input.items())[:10]]
    return "flash by input file (map file):\n" + format_table(["input", "bytes"], rows, "lr")


def _elf_only(elf: ElfUsage) -> str:
    rows = [[name, used, elf.sizes[name], f"{100 * used / elf.sizes[name]:.1f}%", elf.sizes[name] - used]
            for name, used in elf.regions.items()]
    text = format_table(["region", "used", "budget", "% used", "headroom"], rows, "lrrrr")
    sections = format_table(["section", "bytes", "address"],
                            [[s.name, s.size, f"0x{s.vma:08x}"] for s in elf.sections if s.size], "lrr")
    kind = "emulation" if elf.emulation else "board"
    parts = [f"{elf.path} ({kind} memory map)", text, "", sections]
    if elf.by_input:
        parts += ["", _by_input(elf)]
    return "\n".join(parts)


def plot_arena(estimate: FitEstimate, path: Path | str) -> None:
    """PNG: arena bytes in use per layer, the arena's region size and what the region leaves for it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = arena_curve(estimate)
    region = estimate.target.region(estimate.target.placement["arena"])
    others = sum(i.bytes for i in estimate.items if i.region == region.name and i.name != "arena")
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    xs = [p.layer for p in curve]
    ax.fill_between(xs, [p.live / 1024 for p in curve], step="mid", alpha=0.35, label="live tensors")
    ax.step(xs, [p.high_water / 1024 for p in curve], where="mid", label="arena in use (highest byte)")
    ax.axhline(estimate.arena_bytes / 1024, color="tab:blue", linestyle=":", label=f"planned arena {_kb(estimate.arena_bytes)}")
    ax.axhline(region.length / 1024, color="tab:red", label=f"{region.name} {_kb(region.length)}")
    if others:
        ax.axhline((region.length - others) / 1024, color="tab:orange", linestyle="--",
                   label=f"{region.name} left for the arena {_kb(region.length - others)}")
    peak = arena_peak(estimate)
    if peak:
        ax.annotate(f"peak: layer {peak['layer']} {peak['kind']}", (peak["layer"], peak["high_water"] / 1024),
                    textcoords="offset points", xytext=(5, 8), fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel("KB")
    ax.set_title(f"{estimate.source}: arena on {estimate.target.board}")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
