"""Every model of the compatibility corpus through `flynet-tiny bench` on both boards: one table.

    python3 benchmarks/corpus.py [--models NAME,...] [--targets f446re,f746zg] [--inputs 2] [--json corpus.json]

Per model (tests/corpus/, unedited) and board, `bench`'s own path: generated C, -O2 with the DSP
kernels (`--opt speed`), QEMU with the counting plugin, every output checked byte for byte against
the host build of the same C and TFLM's Python interpreter on the same inputs (random bytes over each
input's type, seed 0). A model that does not fit shows bench's one line naming the region and the bytes.

Columns: TFLite operators and our layers, MACs, instructions per inference and per MAC (the layers'
counted segments), estimated ms at the board's clock (the per-class cost model), our arena plus the
caller's input and output buffers against TFLM's `arena_used_bytes` for the same .tflite, and flash
(the emulation build less its embedded inputs). Needs no ../shared; `vs_tflm.py` adds the TFLM +
CMSIS-NN runner beside it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"

from flynet_tiny.errors import CheckFailed, FlynetError  # noqa: E402
from flynet_tiny.reporting import atomic_write_text, format_table, to_json  # noqa: E402
from flynet_tiny.sim.bench import bench_tflite  # noqa: E402
from flynet_tiny.targets import load_target  # noqa: E402
from flynet_tiny.tflite import read_tflite  # noqa: E402
from flynet_tiny.tflite.interpreters import random_samples, tflm_arena_bytes  # noqa: E402


def measure(name: str, tflite: bytes, target_name: str, inputs: int, out_dir: Path) -> dict:
    """One model on one board: bench's totals and memory, or the line it stopped with."""
    record = {"model": name, "target": target_name, "operators": len(read_tflite(tflite).operators)}
    tflm_arena = tflm_arena_bytes(tflite)["total"]
    record["tflm_arena_used"] = tflm_arena
    try:
        result = bench_tflite(tflite, load_target(target_name), random_samples(tflite, inputs, seed=0), out_dir,
                              model_name=name, timeout_s=1800)
    except (CheckFailed, FlynetError) as error:
        record["status"] = str(error).splitlines()[0]
        return record
    generated = result.generated
    ram = generated.ram_bytes  # the arena and the caller's input and output buffers
    record.update(status="bit-exact (host, TFLM)", layers=len(generated.layers), macs=result.totals["macs"],
                  instructions=result.totals["instructions"], instr_per_mac=result.totals["instr_per_mac"],
                  estimated_ms=result.totals["estimated_ms"], ram=ram, ram_ratio=ram / tflm_arena,
                  flash=result.memory["flash_bytes"] - result.memory["embedded_input_bytes"])
    return record


def table(records: list[dict]) -> str:
    rows = []
    for r in records:
        if "instructions" not in r:
            rows.append([r["model"], r["target"], r["operators"], "-", "-", "-", "-", "-", "-",
                         f"{r['tflm_arena_used']:,}", "-", "-", r["status"]])
            continue
        per_mac = f"{r['instr_per_mac']:.2f}" if r["macs"] else "-"
        rows.append([r["model"], r["target"], r["operators"], r["layers"], f"{r['macs']:,}",
                     f"{r['instructions']:,.0f}", per_mac, f"{r['estimated_ms']:.2f}", f"{r['ram']:,}",
                     f"{r['tflm_arena_used']:,}", f"{r['ram_ratio']:.2f}", f"{r['flash']:,}", r["status"]])
    headers = ["model", "board", "ops", "layers", "MACs", "instr", "instr/MAC", "est ms", "arena + I/O",
               "TFLM arena_used", "ratio", "flash", "status"]
    return format_table(headers, rows, "llrrrrrrrrrrl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated corpus names (default: all)")
    parser.add_argument("--targets", default="f446re,f746zg")
    parser.add_argument("--inputs", type=int, default=2, help="inputs per model, each checked byte for byte")
    parser.add_argument("--json", dest="json_path", type=Path, default=None)
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n] or sorted(p.stem for p in CORPUS.glob("*.tflite"))
    missing = [n for n in names if not (CORPUS / f"{n}.tflite").exists()]
    if missing:
        print(f"error: no corpus model {', '.join(missing)}: see tests/corpus/manifest.json", file=sys.stderr)
        return 2
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names, 1):
            tflite = (CORPUS / f"{name}.tflite").read_bytes()
            for target_name in args.targets.split(","):
                start = time.monotonic()
                print(f"[{i}/{len(names)}] {name} on {target_name} ...", end="", file=sys.stderr, flush=True)
                records.append(measure(name, tflite, target_name, args.inputs, Path(tmp) / name / target_name))
                print(f" {time.monotonic() - start:.0f} s: {records[-1]['status']}", file=sys.stderr)
    print(table(records))
    if args.json_path:
        atomic_write_text(args.json_path, to_json(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
