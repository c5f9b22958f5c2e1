"""`fit --suggest`: the FlyNet configurations that fit a board, ranked by MAdds.

The knobs are width, heads and input size; classes, input channels and stem stride stay as
the user set them. The search runs from the profiler and the planner, never a build:
1. parameters per (heads, width) from the model itself: the int8 weights are at least one byte
   per parameter, so a configuration whose parameters plus the board's fixed flash (startup,
   newlib, measured by the calibration) plus the embedded test input pass the flash budget is
   dropped without more work;
2. MAdds and the largest activation per input size from one profile per (heads, width) at a
   base size (input sizes are multiples of the total stride, so every feature map scales
   exactly with the input); a single activation larger than the arena's region is dropped;
3. the rest, most MAdds first, get the full pre-build estimate (sizing export, generated C,
   the code generator's arena plan); one that does not fit rules out the larger input sizes of
   the same (heads, width): flash (the firmware embeds one test input) and RAM only grow with it.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from ..errors import FlynetError
from ..models.registry import FLYNET_WIDTHS, HEADS_RANGE
from ..targets import Target
from .calibration import load_calibration
from .check import estimate_model
from .estimate import FitEstimate
from .model_tflite import ModelSpec, single_torch_thread

DEFAULT_SIZES = (96, 128, 160, 192, 224)


@dataclass
class Candidate:
    spec: ModelSpec
    heads: int
    width: str
    params: int
    madds: int = 0
    largest_activation: int = 0
    estimate: FitEstimate | None = None
    verdict: str = ""


@dataclass
class SuggestResult:
    target: Target
    margin: float
    suggestions: list[Candidate]
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        return self.suggestions[0] if self.suggestions else None


def _scaled_profile(spec: ModelSpec, base: int, sizes: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """MAdds and largest int8 activation at each size, from one profile at `base` (exact for multiples of the stride)."""
    from ..models.profiler import profile_model

    profile = profile_model(spec.build(), base, spec.in_channels, name=spec.name)
    madds, largest = {}, {}
    for size in sizes:
        factor = (size / base) ** 2
        total, peak = 0, 0
        for layer in profile.layers:
            spatial = len(layer.output_shape) == 4 and layer.output_shape[-1] > 1  # after global pooling: 1x1
            scale = factor if spatial else 1.0
            total += round(layer.madds * scale)
            peak = max(peak, round(layer.activation_bytes * scale))
        madds[size], largest[size] = total, peak
    return madds, largest


def suggest(target: Target, classes: int, in_channels: int = 3, stem_stride: int = 2, margin: float = 0.1,
            top: int = 5, widths=FLYNET_WIDTHS, heads=range(HEADS_RANGE[0], HEADS_RANGE[1] + 1),
            sizes=DEFAULT_SIZES, opt: str = "size", max_estimates: int = 24,
            progress=lambda message: None, progress_bars: bool = False) -> SuggestResult:
    if not 0.0 <= margin < 1.0:
        raise FlynetError(f"--margin {margin} out of range: use a fraction such as 0.1 for 10%")
    cal = load_calibration(target, opt, progress)
    flash = next(m for m in target.memory if m.kind == "flash")
    arena_region = target.region(target.placement["arena"])
    fixed_flash = cal.rest.get(flash.name, 0)
    from ..models.registry import config_for_name

    stride = config_for_name("flynet-h1-0.25").with_(stem_stride=stem_stride).total_stride
    sizes = sorted({int(s) for s in sizes})
    for size in sizes:
        if size < stride or size % stride:
            raise FlynetError(f"input size {size} is not a multiple of the total stride {stride}: use multiples of {stride}")
    candidates: list[Candidate] = []
    with single_torch_thread():
        for h in heads:
            for w in widths:
                name = f"flynet-h{h}-{w}"
                spec = ModelSpec(name, sizes[0], classes, in_channels, stem_stride)
                params = sum(p.numel() for p in spec.build().parameters())
                group = [Candidate(ModelSpec(name, s, classes, in_channels, stem_stride), h, w, params) for s in sizes]
                candidates += group
                if params + fixed_flash > flash.length * (1 - margin):
                    for c in group:
                        c.verdict = f"weights alone ({params:,} parameters) leave no room in {flash.name}"
                    continue
                progress(f"profiling {name} ...")
                madds, largest = _scaled_profile(spec, 2 * stride, sizes)
                for c in group:
                    size = c.spec.input_size
                    c.madds, c.largest_activation = madds[size], largest[size]
                    test_input = size * size * in_channels  # the benchmark firmware embeds one input
                    if params + fixed_flash + test_input > flash.length * (1 - margin):
                        c.verdict = f"weights and the {size}x{size} test input leave no room in {flash.name}"
                    elif c.largest_activation > arena_region.length * (1 - margin):
                        c.verdict = f"one activation ({c.largest_activation:,} bytes) is over {arena_region.name}"
    _estimate_in_order(candidates, target, opt, margin, top, max_estimates, progress_bars)
    suggestions = sorted((c for c in candidates if c.verdict == "fits"), key=lambda c: -c.madds)
    return SuggestResult(target, margin, suggestions, candidates)


def _estimate_one(spec: ModelSpec, target: Target, opt: str) -> FitEstimate:
    """One full pre-build estimate, in a worker process (one torch thread: the workers share the cores)."""
    import torch

    torch.set_num_threads(1)
    return estimate_model(spec, target, opt, tflm=False)


def _estimate_in_order(candidates: list[Candidate], target: Target, opt: str, margin: float, top: int,
                       max_estimates: int, progress_bars: bool) -> None:
    """Estimate the candidates left, most MAdds first, deciding each in that order exactly as one at a time
    would: one that does not fit rules out the larger input sizes of its (heads, width), and the search stops
    after `top` fits or `max_estimates` estimates. The estimates run in worker processes, one per core, each
    starting on the next candidates not yet ruled out; one that a later decision rules out is dropped."""
    from ..reporting import progress_bar

    ordered = sorted((c for c in candidates if not c.verdict), key=lambda c: -c.madds)
    failed_at: dict[tuple[int, str], int] = {}  # (heads, width) -> smallest input size found not to fit
    found = estimates = 0

    def ruled_out(c: Candidate) -> str:
        key = (c.heads, c.width)
        if key in failed_at and c.spec.input_size >= failed_at[key]:
            # Flash (the embedded test input) and RAM (activations) only grow with the input size.
            return f"input {failed_at[key]} of the same model did not fit"
        if found >= top:
            return "not estimated (enough found)"
        return "not estimated (limit)" if estimates >= max_estimates else ""

    workers = max(1, min(2, os.cpu_count() or 1))
    running: dict[int, Future] = {}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch thread pool copied by fork
    with ProcessPoolExecutor(workers, mp_context=context) as pool, \
            progress_bar(len(ordered), "estimating configurations", progress_bars, "config") as bar:
        for index, c in enumerate(ordered):
            c.verdict = ruled_out(c)
            if c.verdict:
                if index in running:
                    running.pop(index).cancel()  # started ahead, ruled out since
                bar.update(1)
                continue
            if index not in running:
                running[index] = pool.submit(_estimate_one, c.spec, target, opt)
            ahead = index + 1
            while len(running) < workers and ahead < len(ordered):  # the next open candidates, on idle workers
                if ahead not in running and not ruled_out(ordered[ahead]):
                    running[ahead] = pool.submit(_estimate_one, ordered[ahead].spec, target, opt)
                ahead += 1
            bar.set_postfix_str(c.spec.describe(), refresh=True)
            estimates += 1
            c.estimate = running.pop(index).result()
            over = [r for r in c.estimate.regions if r.used > r.size * (1 - margin)]
            if not over and c.estimate.fits(margin):
                c.verdict = "fits"
                found += 1
            else:
                c.verdict = ", ".join(f"{r.name} {r.percent:.0f}% used" for r in over) or "stack"
                key = (c.heads, c.width)
                failed_at[key] = min(failed_at.get(key, c.spec.input_size), c.spec.input_size)
            bar.update(1)
        for future in running.values():
            future.cancel()


def commands_for(candidate: Candidate, target: Target) -> list[str]:
    """How to get the suggested configuration onto the board: train it, then export and build."""
    spec = candidate.spec
    run = f"runs/{spec.name}-{spec.input_size}"
    stem = "" if spec.stem_stride == 2 else f" --stem-stride {spec.stem_stride}"
    return [
        f"flynet-tiny train {spec.name} --data DATA --input-size {spec.input_size} --classes {spec.classes} "
        f"--in-channels {spec.in_channels}{stem} --out {run}",
        f"flynet-tiny export --checkpoint {run}/best.pt --calib-data DATA --target {target.name} "
        f"--out build/{spec.name}-{spec.input_size}",
    ]


def suggest_table(result: SuggestResult) -> str:
    from ..reporting import format_table

    rows = []
    for c in result.suggestions:
        regions = ", ".join(f"{r.name} {r.percent:.0f}%" for r in c.estimate.regions if r.used)
        rows.append([c.spec.name, c.spec.input_size, f"{c.madds / 1e6:.1f}M", c.params, c.estimate.arena_bytes, regions])
    if not rows:
        return (f"no FlyNet configuration fits {result.target.board} with a {100 * result.margin:g}% margin "
                f"({len(result.candidates)} considered)")
    table = format_table(["model", "input", "MAdds", "params", "arena", "use"], rows, "lrrrrl")
    best = result.best
    lines = [f"configurations that fit {result.target.board} with a {100 * result.margin:g}% margin, most MAdds first:",
             table, "", f"best: {best.spec.describe()}; to train and export it:",
             *(f"  {line}" for line in commands_for(best, result.target))]
    return "\n".join(lines)


def suggest_json(result: SuggestResult) -> dict:
    return {
        "target": result.target.name, "margin": result.margin,
        "suggestions": [{"model": c.spec.name, "input_size": c.spec.input_size, "classes": c.spec.classes,
                         "madds": c.madds, "params": c.params, "arena_bytes": c.estimate.arena_bytes,
                         "regions": {r.name: r.used for r in c.estimate.regions}} for c in result.suggestions],
        "commands": commands_for(result.best, result.target) if result.best else [],
        "considered": [{"model": c.spec.name, "input_size": c.spec.input_size, "verdict": c.verdict}
                       for c in result.candidates],
    }
