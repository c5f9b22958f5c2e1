"""The firmware half of `flynet-tiny export --target`: the exported `.tflite` compiled ahead of
time into C, built for the board, and (with `--bench`) run in QEMU against the host and TFLM.

Everything lands in the export's staging folder, so a failed build or bench leaves the previous
export untouched like any other failed stage:

    firmware-<target>/   generated C (model/), Makefile, linker script, firmware.elf/.bin/.hex/.map
    bench-<target>/      emulation build, report.json/.md, latency.png          [--bench]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..data.model_inputs import BenchInputs, int8_inputs
from ..reporting import relocated

EMBEDDED_INPUTS = 4  # real test images compiled into the board firmware's benchmark main


def _progress(message: str) -> None:
    print(f"      {message}", file=sys.stderr, flush=True)


def _relative(summary: dict, root: Path) -> dict:
    """Build paths relative to the export folder: the staging folder is renamed after this stage."""
    out = {}
    for key, value in summary.items():
        if isinstance(value, str) and Path(value).is_relative_to(root):
            value = str(Path(value).relative_to(root))
        out[key] = value
    return out


def firmware_stage(staging: Path, target, request, report: dict, images: np.ndarray | None) -> None:
    """Build the board firmware (and the QEMU bench with `request.bench`) into `staging`."""
    from ..build.from_tflite import build_from_tflite, build_summary

    tflite = staging / "model_int8.tflite"
    tflite_bytes = tflite.read_bytes()
    print(f"[firmware] C + build for {target.board} ({target.core})", file=sys.stderr, flush=True)
    build = build_from_tflite(tflite, target, staging / f"firmware-{target.name}", opt=request.opt,
                              inputs=int8_inputs(tflite_bytes, images, EMBEDDED_INPUTS), progress=_progress)
    report["firmware"] = _relative(build_summary(build), staging)
    if not request.bench:
        return
    from ..sim.bench import bench_tflite
    from ..sim.bench_report import write_bench_reports

    print(f"[bench] QEMU {target.emulator['qemu_machine']}: {request.bench_inputs} inputs", file=sys.stderr, flush=True)
    bench_dir = staging / f"bench-{target.name}"
    source = (f"the first {request.bench_inputs} of the export's verification images" if images is not None
              else f"{request.bench_inputs} random int8 inputs (seed 0): the export had no images")
    inputs = BenchInputs(int8_inputs(tflite_bytes, images, request.bench_inputs), source)
    result = bench_tflite(tflite_bytes, target, inputs, bench_dir, progress=_progress, model_name=report["model"])
    # Its report names the files where they will be once the staging folder has become --out.
    out = Path(request.out)
    result = relocated(result, staging, out)
    files = write_bench_reports(result, out / bench_dir.name, staging=bench_dir)
    report["bench"] = {**_relative(files, out), "inputs": source, "totals": result.totals, "checks": result.checks}
