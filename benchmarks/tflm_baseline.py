"""The TFLite Micro + CMSIS-NN runner (../shared/baselines/tflm-cmsis-nn) as a measuring instrument for
the benchmark scripts: where it is, how to call it, what its `--json` report says.

    runner = find_dir(None, "shared/baselines/tflm-cmsis-nn", "the TFLM + CMSIS-NN runner")
    report = run_baseline(runner, model_path, "f446re", inputs_path)     # raises BaselineFailed
    run = parse_baseline_report(report)
    run.mean_invoke, run.mean_op_instructions[3], run.outputs[0][0]

Never a dependency of the product or its tests: only benchmarks/ imports this.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from flynet_tiny.errors import FlynetError

ROOT = Path(__file__).resolve().parents[1]


class BaselineFailed(Exception):
    """The runner refused or failed on a model (its one-line error)."""


def find_dir(explicit: str | None, relative: str, what: str) -> Path:
    """`explicit`, else `relative` under the repository or one of its parent folders."""
    candidates = [Path(explicit)] if explicit else [p / relative for p in (ROOT, *ROOT.parents)]
    for path in candidates:
        if path.is_dir():
            return path
    raise FlynetError(f"{what} not found (looked for {relative} upward from {ROOT}): pass its folder")


def load_runner(runner_dir: Path):
    """run.py as a module (its ELF, machine and input-file helpers)."""
    spec = importlib.util.spec_from_file_location("tflm_runner", runner_dir / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_baseline(runner_dir: Path, model: Path, target: str, inputs: Path, opt: str = "O2",
                 timeout_s: float = 1800) -> dict:
    """The runner's --json report for `model` on `target` with the inputs in `inputs` (.npy / .npz)."""
    cmd = [sys.executable, str(runner_dir / "run.py"), str(model), "--target", target, "--opt", opt,
           "--inputs", str(inputs), "--json", "--timeout", str(timeout_s)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 60)
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}").splitlines()
        raise BaselineFailed(lines[-1].removeprefix("error: "))
    return json.loads(proc.stdout)


@dataclass(frozen=True)
class BaselineRun:
    """One runner report: per inference the Invoke total, per op (node index) and the output bytes."""

    arena_used_bytes: int
    invoke: list[int]                    # per inference
    op_names: dict[int, str]             # node index -> builtin name
    op_instructions: list[dict[int, int]]  # per inference: node index -> instructions
    outputs: list[list[bytes]]           # per inference, per output tensor

    @property
    def mean_invoke(self) -> float:
        return sum(self.invoke) / len(self.invoke)

    @property
    def mean_op_instructions(self) -> dict[int, float]:
        n = len(self.op_instructions)
        return {i: sum(ops.get(i, 0) for ops in self.op_instructions) / n for i in self.op_names}


def parse_baseline_report(report: dict) -> BaselineRun:
    """The runner's --json report as a BaselineRun; FlynetError if it is not one."""
    try:
        inferences = report["per_inference"]
        if not inferences:
            raise FlynetError("the runner's report has no inferences")
        names: dict[int, str] = {}
        per_op = []
        for inference in inferences:
            counts = {}
            for op in inference["ops"]:
                index = int(op["index"])
                if names.setdefault(index, op["op"]) != op["op"]:
                    raise FlynetError(f"the runner's report names node {index} {names[index]} and {op['op']}")
                counts[index] = int(op["instructions"])
            per_op.append(counts)
        return BaselineRun(
            arena_used_bytes=int(report["arena_used_bytes"]),
            invoke=[int(i["invoke_instructions"]) for i in inferences],
            op_names=names, op_instructions=per_op,
            outputs=[[bytes.fromhex(h) for h in i["outputs_hex"]] for i in inferences],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise FlynetError(f"not a TFLM runner --json report ({type(error).__name__}: {error})") from error
