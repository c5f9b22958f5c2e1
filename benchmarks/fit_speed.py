"""Wall time of `flynet-tiny fit` from a model name, and the estimate against real links.

    python3 benchmarks/fit_speed.py

1. fit from a model name (FlyNet-h3-0.5, 224x224, 1000 classes, F446RE) in a fresh process,
   as a user runs it: first with no cached sizing export (torch: PTQ, ONNX, converter), then
   three times with it cached (build/fit_cache/models). Wall and CPU seconds (the process and
   its children: gcc, readelf), since the wall time depends on the machine's load.
2. For small models on both boards: the pre-build estimate vs the linked ELF (flash %, arena).
Prints tables; the machine's load average is printed too, since timings depend on it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flynet_tiny.reporting import format_table  # noqa: E402

FIT = ["flynet-h3-0.5", "--target", "f446re", "--input-size", "224", "--classes", "1000", "--json"]


def timed_fit(args: list[str]) -> tuple[float, float, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flynet_tiny.cli", "fit", *args], capture_output=True, text=True,
                          cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(proc.stdout)


def speed_rows() -> list[list]:
    from flynet_tiny.fit.model_tflite import ModelSpec, _cached_path

    timed_fit(FIT)  # calibration (once per board and source change) is not what is measured
    _cached_path(ModelSpec("flynet-h3-0.5", 224, 1000), 0).unlink(missing_ok=True)
    rows = []
    for run in range(4):
        load = os.getloadavg()[0]
        wall, cpu, report = timed_fit(FIT)
        label = "no cached sizing export" if run == 0 else f"cached sizing export #{run}"
        rows.append([label, f"{wall:.2f}", f"{cpu:.2f}", f"{load:.1f}", report["regions"][0]["used"], report["fits"]])
    return rows


def agreement_rows() -> list[list]:
    from flynet_tiny.build.from_tflite import build_from_tflite
    from flynet_tiny.errors import CheckFailed
    from flynet_tiny.fit import ModelSpec, elf_usage, estimate_from_tflite, model_tflite_bytes
    from flynet_tiny.targets import load_target

    rows = []
    for spec in (ModelSpec("flynet-h3-0.25", 32, 10), ModelSpec("mobilenetv3-small-0.5", 32, 10),
                 ModelSpec("flynet-h1-0.25", 64, 100)):
        tflite_bytes = model_tflite_bytes(spec)
        for board in ("f446re", "f746zg"):
            target = load_target(board)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.tflite"
                path.write_bytes(tflite_bytes)
                estimate = estimate_from_tflite(tflite_bytes, target, tflm=False)
                flash = next(m.name for m in target.memory if m.kind == "flash")
                est = estimate.region(flash).used
                try:
                    build = build_from_tflite(path, target, Path(folder) / "build")
                except CheckFailed as exc:  # the linker refused it: did the estimate say so too?
                    rows.append([spec.describe(), board, est, "overflow", f"estimate fits: {estimate.fits()}",
                                 estimate.arena_bytes, "-", str(exc).split(": ", 1)[1].split(";")[0]])
                    continue
                real = elf_usage(build.elf, target)
            elf = real.regions[flash]
            arena_section = next(s.size for s in real.sections if s.name == ".fn_arena")
            ram = [f"{r.name} {r.used - real.regions[r.name]:+d}" for r in estimate.regions if r.name != flash]
            rows.append([spec.describe(), board, est, elf, f"{100 * (est - elf) / elf:+.2f}%", estimate.arena_bytes,
                         arena_section, ", ".join(ram)])
    return rows


def main() -> None:
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    print("fit from a model name: " + " ".join(FIT))
    print(format_table(["run", "wall s", "CPU s", "load", "flash estimate", "fits"], speed_rows(), "lrrrrl"))
    print("\npre-build estimate vs linked ELF (flash), arena vs the ELF's .fn_arena")
    print(format_table(["model", "board", "flash est.", "flash ELF", "diff", "arena est.", "arena ELF", "RAM est. - ELF"],
                       agreement_rows(), "llrrrrrl"))


if __name__ == "__main__":
    main()
