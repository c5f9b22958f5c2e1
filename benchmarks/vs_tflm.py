"""flynet-tiny vs TFLite Micro + CMSIS-NN on the same .tflite, inputs and QEMU machines, both boards.

    PYTHONPATH=. python3 benchmarks/vs_tflm.py [--models NAME,...] [--data DIR] [--json vs_tflm.json]
                                               [--inputs 2] [--targets f446re,f746zg] [--runner DIR]

Models: every .tflite of the compatibility corpus (tests/corpus/manifest.json), the bundled FlyNet
(`flynet-tiny export`'s model_int8.tflite), MobileNetV3-Small 0.35 at 96x96 (random init, PTQ on --data
through our converter; 0.35 fits the F446RE's 512 KB of flash, 0.5 has 554 KB of weights) and a person-detection-like MobileNetV1 0.25 at 96x96x1 (TFLM's person_detect
layer shapes, random int8 weights). `--models` picks some by name (`--list` prints them).

Per model and board, on the same random input bytes (data/model_inputs.random_samples, seed 0: every input
over its type's range):
- ours: `flynet-tiny bench`'s path (sim/bench.py): generated C, -O2 DSP kernels, QEMU with the counting
  plugin, outputs checked byte for byte against the host build and TFLM's Python interpreter; a model
  the code generator refuses is listed with its first error (its blocker).
- theirs: the TFLM + CMSIS-NN runner (../shared/baselines/tflm-cmsis-nn, -O2, --json), its output bytes
  compared with TFLM's Python interpreter on the same inputs.
- instructions per inference (ours: the layers' counted segments, i.e. the kernel calls and the generated
  glue between begin/end; theirs: the whole Invoke), their ratio, and per op kind (each of our layers
  against the TFLM ops it computes; TFLM ops that we fold away count against nothing of ours);
- memory: our arena plus the caller's input and output buffers (those that are not arena slots) against
  TFLM's arena_used_bytes;
- flash: our emulation build less its test inputs (model + kernels + runtime) against the .tflite alone
  (the runner's code, 54 kernels registered, is about 280 KB and is not a real application's).

Prints progress per model (stderr), one table (stdout), the per-op-kind rows of every model above
--threshold, and writes all of it as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from tflm_baseline import BaselineFailed, find_dir, parse_baseline_report, run_baseline  # noqa: E402

from flynet_tiny.tflite.interpreters import random_samples  # noqa: E402
from flynet_tiny.errors import CheckFailed, FlynetError  # noqa: E402
from flynet_tiny.reporting import atomic_write_text, format_table, to_json  # noqa: E402

TARGETS = ("f446re", "f746zg")
EXTRA_MODELS = ("flynet_bundled", "mobilenetv3_small_0.35_96", "person_detect_mbv1_025_96x96x1")
FOLDED = "(folded)"  # TFLM ops that none of our layers computes: views and chains the generator folds


# ---------------------------------------------------------------- the parts the tests check


def write_runner_inputs(sets: list[list[np.ndarray]], folder: Path) -> Path:
    """The inputs as the runner's --inputs file: .npy (one input: inferences stacked) or .npz (one array
    per input tensor, in input order, each with the inferences stacked)."""
    stacked = [np.stack([s[i] for s in sets]) for i in range(len(sets[0]))]
    if len(stacked) == 1:
        path = folder / "inputs.npy"
        np.save(path, stacked[0])
    else:
        path = folder / "inputs.npz"
        np.savez(path, *stacked)
    return path


@dataclass
class KindRow:
    kind: str
    ours: float = 0.0
    theirs: float = 0.0
    layers: int = 0  # our layers of this kind (TFLM ops for the folded kind)

    @property
    def ratio(self) -> float | None:
        return self.ours / self.theirs if self.theirs else None


def per_kind(layers: Sequence[dict], tflm_ops: dict[int, float], tflm_names: dict[int, str]) -> list[KindRow]:
    """Instructions per op kind, ours against TFLM's: each of our layers (bench rows: `op`, `instructions`,
    `tflite_op_indices`) against the sum of the TFLM ops it computes; TFLM ops no layer computes go to
    FOLDED. Largest TFLM share first. ValueError if two layers claim one op or a layer names an op TFLM
    did not run."""
    rows: dict[str, KindRow] = {}
    claimed: set[int] = set()
    for layer in layers:
        row = rows.setdefault(layer["op"], KindRow(layer["op"]))
        row.ours += layer["instructions"]
        row.layers += 1
        for index in layer["tflite_op_indices"]:
            if index in claimed:
                raise ValueError(f"TFLite op {index} is computed by two layers")
            if index not in tflm_ops:
                raise ValueError(f"layer {layer['op']} computes TFLite op {index}, which TFLM did not run")
            claimed.add(index)
            row.theirs += tflm_ops[index]
    for index in sorted(set(tflm_ops) - claimed):
        row = rows.setdefault(FOLDED, KindRow(FOLDED))
        row.theirs += tflm_ops[index]
        row.layers += 1
    return sorted(rows.values(), key=lambda r: (-r.theirs, r.kind))


def outputs_match(expected: Sequence[Sequence[np.ndarray]], got: Sequence[Sequence[bytes]]) -> list[str]:
    """Where the runner's output bytes differ from TFLM Python's: one line per differing (inference, output)."""
    if len(expected) != len(got):
        return [f"{len(got)} inferences reported, {len(expected)} expected"]
    problems = []
    for number, (want, have) in enumerate(zip(expected, got)):
        if len(want) != len(have):
            problems.append(f"inference {number}: {len(have)} outputs, {len(want)} expected")
            continue
        for k, (w, h) in enumerate(zip(want, have)):
            w = np.ascontiguousarray(w).tobytes()
            if w != h:
                first = next((i for i, (a, b) in enumerate(zip(w, h)) if a != b), min(len(w), len(h)))
                problems.append(f"inference {number} output {k}: {len(h)} vs {len(w)} bytes, first difference at byte {first}")
    return problems


# ---------------------------------------------------------------- measuring


@dataclass
class Side:
    ok: bool = False
    error: str = ""
    instructions: float = 0.0
    bit_exact: str = ""  # what was checked and how it came out
    extra: dict = field(default_factory=dict)


def run_ours(tflite: bytes, target_name: str, sets, out_dir: Path, name: str) -> tuple[Side, list[dict], dict]:
    from flynet_tiny.sim.bench import bench_tflite
    from flynet_tiny.targets import load_target

    side = Side()
    try:
        result = bench_tflite(tflite, load_target(target_name), sets, out_dir, model_name=name, timeout_s=1800)
    except CheckFailed as error:
        text = str(error).splitlines()[0]
        side.error = text if "differ" not in text else ""
        side.bit_exact = f"NO: {text}" if "differ" in text else ""
        return side, [], {}
    except FlynetError as error:
        side.error = str(error).splitlines()[0]
        return side, [], {}
    side.ok = True
    side.instructions = result.totals["instructions"]
    side.bit_exact = "yes (host, TFLM)"
    generated = result.generated
    # ram_bytes: the arena and the caller's input / output buffers where those are not arena slots.
    memory = {"arena": generated.arena_bytes, "ram": generated.ram_bytes, "flash": result.memory["flash_bytes"],
              "weights": generated.weight_bytes}
    return side, result.layers, memory


def run_theirs(runner: Path, model_path: Path, target: str, inputs_path: Path, expected) -> tuple[Side, object]:
    side = Side()
    try:
        run = parse_baseline_report(run_baseline(runner, model_path, target, inputs_path))
    except BaselineFailed as error:
        side.error = str(error)
        return side, None
    side.ok = True
    side.instructions = run.mean_invoke
    problems = outputs_match(expected, run.outputs)
    side.bit_exact = "yes (TFLM Python)" if not problems else f"NO: {problems[0]}"
    return side, run


# ---------------------------------------------------------------- models


def corpus_models(corpus: Path) -> dict[str, Path]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    return {name: corpus / entry["file"] for name, entry in sorted(manifest["models"].items())}


def person_detect_like() -> bytes:
    """MobileNetV1 0.25 at 96x96x1 with TFLM person_detect's layers (3x3 average pool, 1x1 conv to 2 classes,
    softmax), random int8 weights (tests/codegen_models.py ModelMaker). Activations are quantized as the TF
    converter does after a ReLU: zero point -128, so the clamp is the whole int8 range (ModelMaker's random
    zero points would narrow it, which real models do not)."""
    from codegen_models import ModelMaker

    class ReluMaker(ModelMaker):
        def _out(self, shape, acc_scale, name):
            return self.tensor(shape, acc_scale, -128, name=name)

    m = ReluMaker(96, "MobileNetV1 0.25 96x96x1, person_detect's layer shapes")
    x = m.input((1, 96, 96, 1))
    y = m.conv(x, 8, k=3, stride=2, act="RELU")
    for channels, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
                             (128, 1), (128, 1), (256, 2), (256, 1)):
        y = m.conv(m.depthwise(y, k=3, stride=stride, act="RELU"), channels, k=1, act="RELU")
    y = m.conv(m.pool("AVERAGE_POOL_2D", y, k=3, stride=2), 2, k=1)
    return m.build(x, m.unary("SOFTMAX", m.reshape(y, (1, 2))))


def export_cli(folder: Path, *args: str) -> bytes:
    """`flynet-tiny export --out folder ARGS` (this checkout's package) and its model_int8.tflite."""
    cmd = [sys.executable, "-m", "flynet_tiny.cli", "export", "--out", str(folder), "--no-verify", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise FlynetError(f"flynet-tiny export {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return (folder / "model_int8.tflite").read_bytes()


def extra_model(name: str, data: Path | None, tmp: Path) -> bytes:
    if name == "flynet_bundled":
        return export_cli(tmp / name)
    if name == "mobilenetv3_small_0.35_96":
        if data is None:
            raise FlynetError("MobileNetV3-Small needs --data (calibration images, e.g. ../shared/datasets/cifar10)")
        return export_cli(tmp / name, "--model", "mobilenetv3-small-0.35", "--input-size", "96", "--calib-data",
                          str(data), "--calib-samples", "32")
    if name == "person_detect_mbv1_025_96x96x1":
        return person_detect_like()
    raise FlynetError(f"unknown model {name}")


# ---------------------------------------------------------------- main


def fmt(value, spec=",.0f", missing="-"):
    return missing if value is None else format(value, spec)


def measure(name: str, tflite: bytes, targets: Sequence[str], runner: Path, inputs: int, tmp: Path) -> dict:
    from flynet_tiny.tflite.interpreters import run_tflm_batch

    sets = random_samples(tflite, inputs)
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / "model.tflite"
    model_path.write_bytes(tflite)
    inputs_path = write_runner_inputs(sets, folder)
    expected = run_tflm_batch(tflite, sets)
    record = {"model": name, "tflite_bytes": len(tflite), "inputs": inputs, "boards": {}}
    for target in targets:
        start = time.perf_counter()
        ours, layers, memory = run_ours(tflite, target, sets, folder / f"ours-{target}", name)
        theirs, run = run_theirs(runner, model_path, target, inputs_path, expected)
        board = {"ours": vars(ours), "theirs": vars(theirs), "memory": memory}
        if run is not None:
            board["theirs"]["arena_used_bytes"] = run.arena_used_bytes
            board["theirs"]["per_op"] = [{"index": i, "op": run.op_names[i], "instructions": v}
                                         for i, v in sorted(run.mean_op_instructions.items())]
        if ours.ok and run is not None:
            board["ratio"] = ours.instructions / theirs.instructions
            board["memory"]["ours_total"] = memory["ram"]
            board["memory_ratio"] = memory["ram"] / run.arena_used_bytes
            board["per_kind"] = [dict(vars(r), ratio=r.ratio) for r in
                                 per_kind(layers, run.mean_op_instructions, run.op_names)]
        board["ours_layers"] = [{k: l[k] for k in ("index", "op", "output_shape", "macs", "instructions",
                                                   "tflite_op_indices")} for l in layers]
        record["boards"][target] = board
        print(f"  {target}: ours {fmt(ours.instructions) if ours.ok else ours.error or ours.bit_exact}, "
              f"TFLM {fmt(theirs.instructions) if theirs.ok else theirs.error} "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return record


def table_rows(records: list[dict]) -> list[list]:
    rows = []
    for record in records:
        for target, b in record["boards"].items():
            ours, theirs, memory = b["ours"], b["theirs"], b["memory"]
            note = ours["error"] or ("" if theirs["ok"] else f"TFLM: {theirs['error']}")
            rows.append([
                record["model"], target,
                fmt(ours["instructions"]) if ours["ok"] else "-", fmt(theirs["instructions"]) if theirs["ok"] else "-",
                fmt(b.get("ratio"), ".2f"),
                fmt(memory.get("ours_total")), fmt(theirs.get("arena_used_bytes")), fmt(b.get("memory_ratio"), ".2f"),
                fmt(memory.get("flash")), fmt(record["tflite_bytes"]),
                ours["bit_exact"] or "-", theirs["bit_exact"] or "-", note[:110],
            ])
    return rows


def kind_rows(records: list[dict], threshold: float) -> list[list]:
    rows = []
    for record in records:
        for target, b in record["boards"].items():
            if b.get("ratio") is None or b["ratio"] <= threshold:
                continue
            for k in b["per_kind"]:
                rows.append([record["model"], target, k["kind"], k["layers"], fmt(k["ours"]), fmt(k["theirs"]),
                             fmt(k["ratio"], ".2f"), f"{100 * k['ours'] / b['ours']['instructions']:.0f}%"])
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated model names (default: all; --list prints them)")
    parser.add_argument("--list", action="store_true", help="print the model names and exit")
    parser.add_argument("--data", help="calibration images for MobileNetV3-Small (e.g. ../shared/datasets/cifar10)")
    parser.add_argument("--corpus", help="the corpus folder [default: tests/corpus]")
    parser.add_argument("--runner", help="the TFLM + CMSIS-NN runner [default: shared/baselines/tflm-cmsis-nn]")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--inputs", type=int, default=2, help="random inputs per model [default: 2]")
    parser.add_argument("--threshold", type=float, default=0.5, help="per-op-kind rows for models above this ratio")
    parser.add_argument("--json", default="vs_tflm.json", help="where the JSON goes [default: vs_tflm.json]")
    args = parser.parse_args(argv)
    corpus = corpus_models(Path(args.corpus) if args.corpus else ROOT / "tests" / "corpus")
    names = [*corpus, *EXTRA_MODELS]
    if args.list:
        print("\n".join(names))
        return 0
    chosen = args.models.split(",") if args.models else names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise FlynetError(f"unknown model(s) {', '.join(unknown)}: --list prints the names")
    targets = args.targets.split(",")
    if any(t not in TARGETS for t in targets):
        raise FlynetError(f"--targets takes {', '.join(TARGETS)}")
    if args.inputs < 1:
        raise FlynetError("--inputs must be at least 1")
    runner = find_dir(args.runner, "shared/baselines/tflm-cmsis-nn", "the TFLM + CMSIS-NN runner")
    data = Path(args.data) if args.data else None
    records = []
    with tempfile.TemporaryDirectory(prefix="vs-tflm-") as folder:
        tmp = Path(folder)
        for number, name in enumerate(chosen, start=1):
            print(f"[{number}/{len(chosen)}] {name}", file=sys.stderr, flush=True)
            try:
                tflite = corpus[name].read_bytes() if name in corpus else extra_model(name, data, tmp)
            except FlynetError as error:
                print(f"  skipped: {error}", file=sys.stderr)
                records.append({"model": name, "error": str(error), "boards": {}})
                continue
            records.append(measure(name, tflite, targets, runner, args.inputs, tmp))
    atomic_write_text(args.json, to_json({"inputs": args.inputs, "runner_opt": "O2", "ours_opt": "speed",
                                          "records": records}))
    print(f"instructions per inference (mean of {args.inputs} random samples, seed 0); memory = our arena + the "
          "caller's buffers that are not arena slots vs TFLM arena_used_bytes; flash = ours (model + kernels + runtime) vs the .tflite alone")
    print(format_table(["model", "board", "ours instr", "TFLM instr", "ratio", "ours mem B", "TFLM arena B",
                        "mem ratio", "ours flash B", ".tflite B", "ours bit-exact", "TFLM bit-exact", "note"],
                       table_rows(records), "llrrrrrrrrlll"))
    rows = kind_rows(records, args.threshold)
    if rows:
        print(f"\nper op kind, models above {args.threshold}x (ours = our layers of that kind; TFLM = the ops they "
              f"compute; {FOLDED} = TFLM ops we fold away)")
        print(format_table(["model", "board", "kind", "layers", "ours instr", "TFLM instr", "ratio", "share of ours"],
                           rows, "lllrrrrr"))
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FlynetError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
