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

from ..data.model_inputs import BenchInputs
from ..tflite.interpreters import random_samples
from ..reporting import relocated

EMBEDDED_INPUTS = 4  # real test images compiled into the board firmware's benchmark main


def _progress_to(staging: Path, out: Path):
    """Progress lines to stderr naming the paths the user will see (the output folder, not the staging one)."""
    def progress(message: str) -> None:
        print(f"      {message.replace(str(staging), str(out))}", file=sys.stderr, flush=True)
    return progress


def _relative(summary: dict, root: Path) -> dict:
    """Build paths relative to the export folder: the staging folder is renamed after this stage."""
    out = {}
    for key, value in summary.items():
        if isinstance(value, str) and Path(value).is_relative_to(root):
            value = str(Path(value).relative_to(root))
        out[key] = value
    return out


def _samples(tflite_bytes: bytes, verification, count: int) -> BenchInputs:
    """The first `count` verification samples, or `count` random ones when verification had fewer (or none)."""
    if verification is not None and len(verification.samples) >= count:
        return BenchInputs(verification.samples[:count], f"the first {count} of {verification.source}")
    return BenchInputs(random_samples(tflite_bytes, count),
                       f"{count} random inputs (seed 0, over each input's range): the export verified on no images")


def firmware_stage(staging: Path, out: Path, target, request, report: dict, verification, stages) -> None:
    """Build the board firmware (and the QEMU bench with `request.bench`) into `staging`, as the export's last
    stages (`stages` counts and times them); `verification` (pipeline.export.VerificationSamples or None)
    supplies the embedded test inputs."""
    from ..build.from_tflite import build_from_tflite, build_summary

    tflite = staging / "model_int8.tflite"
    tflite_bytes = tflite.read_bytes()
    progress = _progress_to(staging, out)
    build = stages.run(f"firmware: C + build for {target.board} ({target.core})", build_from_tflite, tflite, target,
                       staging / f"firmware-{target.name}", opt=request.opt,
                       inputs=_samples(tflite_bytes, verification, EMBEDDED_INPUTS).samples, progress=progress)
    report["firmware"] = _relative(build_summary(build), staging)
    if not request.bench:
        return
    from ..sim.bench import bench_tflite
    from ..sim.bench_report import write_bench_reports

    bench_dir = staging / f"bench-{target.name}"
    inputs = _samples(tflite_bytes, verification, request.bench_inputs)
    result = stages.run(f"bench: QEMU {target.emulator['qemu_machine']}, {request.bench_inputs} inputs", bench_tflite,
                        tflite_bytes, target, inputs, bench_dir, progress=progress, model_name=report["model"])
    # Its report names the files where they will be once the staging folder has become --out.
    result = relocated(result, staging, out)
    files = write_bench_reports(result, out / bench_dir.name, staging=bench_dir)
    report["bench"] = {**_relative(files, out), "inputs": inputs.source, "totals": result.totals,
                       "checks": result.checks}
