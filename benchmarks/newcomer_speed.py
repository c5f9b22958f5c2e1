"""Wall time of the two slow steps a new user meets: `evaluate` on a full test set, and `fit --suggest`.

    python3 benchmarks/newcomer_speed.py --data ../shared/datasets/fashion-mnist [--samples 10000]

1. `flynet-tiny evaluate` of the bundled model on the first --samples test images (default: all 10,000),
   all three columns (fp32, int8 fake-quant, int8 integer mode = TFLM's arithmetic). Goal: under 3 minutes
   on a 2-core machine.
2. `flynet-tiny fit --target f446re --classes 1000 --suggest`, first with empty caches (a fresh
   XDG_CACHE_HOME: the fit calibration build and every sizing export happen in the run), then again with
   them. Goal: under 60 s.
Each command runs in a fresh process as a user runs it; wall and CPU seconds (the process and its children)
and the load average before it are printed, since the wall time depends on what else the machine runs.
"""

from __future__ import annotations

import argparse
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

EVALUATE_GOAL_S = 180
SUGGEST_GOAL_S = 60


def timed(args: list[str], env: dict | None = None) -> tuple[float, float, float, str]:
    """(wall s, CPU s of the process and its children, 1-minute load before, stdout) of one CLI run."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flynet_tiny.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"flynet-tiny {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, load, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Fashion-MNIST IDX folder (the full test split)")
    parser.add_argument("--samples", type=int, default=None, help="test images for evaluate [default: all]")
    args = parser.parse_args()
    rows = []

    evaluate = ["evaluate", "--data", str(Path(args.data).resolve()), "--json"]
    if args.samples:
        evaluate += ["--samples", str(args.samples)]
    print("evaluate ...", file=sys.stderr)
    wall, cpu, load, out = timed(evaluate)
    result = json.loads(out)
    rows.append([f"evaluate, {result['samples']:,} images, 3 columns", f"{wall:.1f}", f"{cpu:.1f}", f"{load:.1f}",
                 f"{EVALUATE_GOAL_S}", "yes" if wall < EVALUATE_GOAL_S else "NO",
                 f"fp32 {100 * result['fp32_top1']:.2f}%, int8 {100 * result['int8_top1']:.2f}%, "
                 f"integer {100 * result['int8_integer_top1']:.2f}%"])

    suggest = ["fit", "--target", "f446re", "--classes", "1000", "--suggest", "--json"]
    with tempfile.TemporaryDirectory(prefix="flynet-newcomer-cache-") as cache:
        for label in ("fit --suggest, empty caches", "fit --suggest, caches kept"):
            print(f"{label} ...", file=sys.stderr)
            wall, cpu, load, out = timed(suggest, {"XDG_CACHE_HOME": cache})
            found = json.loads(out)["suggest"]
            best = found["suggestions"][0] if found["suggestions"] else None
            rows.append([label, f"{wall:.1f}", f"{cpu:.1f}", f"{load:.1f}", f"{SUGGEST_GOAL_S}",
                         "yes" if wall < SUGGEST_GOAL_S else "NO",
                         f"best {best['model']} at {best['input_size']}" if best else "none fits"])
    print(format_table(["step", "wall s", "CPU s", "load before", "goal s", "met", "result"], rows, "lrrrrll"))
    print(f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
