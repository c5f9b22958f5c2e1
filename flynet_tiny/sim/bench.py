"""`flynet-tiny bench`: a model on an emulated board, checked bit for bit and timed layer by layer.

    inputs = model_inputs.bench_inputs(tflite_bytes, 20, data_path="../shared/datasets/fashion-mnist")
    # (inputs.samples: one array per model input; a plain list of arrays works for a one-input model)
    result = bench_tflite(tflite_bytes, load_target("f746zg"), inputs, "bench/f746zg", runs=3)
    result.totals["estimated_ms"], result.layers[0]["instr_per_mac"]
    bench_report.write_bench_reports(result, "bench/f746zg")   # report.json, report.md, latency.png

Steps: generate C (per-layer FNV-1a checksums on) -> emulation build embedding the inputs ->
the same C built for the host, and TFLite Micro, on the same inputs -> R QEMU runs with the
counting plugin. Checks (CheckFailed on a miss): each run's per-layer checksums equal the
host build's (the first differing layer is named), the output bytes equal the host's and
TFLM's, the instruction counts (and the pipeline model's cycles) are identical across runs.
Latency per layer comes from flynet_tiny.sim.latency, both ways: the per-class costs
(`classes`, the default headline; the layer's weights streamed once from flash charged) and the
plugin's pipeline model (`pipeline`); `latency_model` picks which one the totals and plot use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..build.bench_firmware import aligned_offsets, build_model_firmware, sample_arrays
from ..build.linker_script import TEST_INPUTS_REGION
from ..build.make import BuildResult
from ..build.options import uses_dsp_kernels
from ..build.toolchain import find_toolchain
from ..codegen.generate import GeneratedModel, build_ir, generate_model_sources, layer_checksum
from ..codegen.graph import ModelIR
from ..codegen.host_model import HostModel
from ..errors import CheckFailed, FlynetError
from ..targets import Target
from ..data.model_inputs import BenchInputs
from .latency import (DEFAULT_LATENCY_MODEL, check_latency_model, estimate_latency, model_source,
                      pipeline_latency)
from .qemu import RunResult, find_qemu, run_qemu
from .report import per_layer_means, weights_in_flash
from .timing import board_timing

CHECKSUM_DEFINE = "FLYNET_LAYER_CHECKSUMS"
MAC_WEIGHT_DIMS = {"CONV_2D": slice(1, 4), "DEPTHWISE_CONV_2D": slice(1, 3), "FULLY_CONNECTED": slice(1, 2)}


def _silent(message: str) -> None:
    pass


@dataclass
class BenchResult:
    model: str
    target: Target
    inputs: int
    input_source: str
    runs: int
    opt: str
    generated: GeneratedModel
    build: BuildResult
    layers: list[dict]  # one per generated layer, per inference
    totals: dict
    memory: dict
    checks: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    latency_model: str = DEFAULT_LATENCY_MODEL

    def to_json(self) -> dict:
        t = self.target
        return {
            "model": self.model, "target": t.name, "board": t.board, "core": t.core, "clock_hz": t.clock_hz,
            "qemu_machine": t.emulator["qemu_machine"], "inputs": self.inputs, "input_source": self.input_source,
            "runs": self.runs, "opt": self.opt, "checks": self.checks, "memory": self.memory,
            "totals": self.totals, "layers": self.layers, "latency_model": self.latency_model,
            "latency_model_source": model_source(t, self.latency_model),
            "elf": str(self.build.elf), "files": self.files,
        }


def layer_macs(ir: ModelIR) -> list[int]:
    """Multiply-accumulates per layer: conv, depthwise (all heads of an MDW) and fully connected."""
    macs = []
    for layer in ir.layers:
        total = 0
        for op in layer.ops:
            dims = MAC_WEIGHT_DIMS.get(op.opcode)
            if dims is not None:
                weights = ir.tensor(op.inputs[1]).shape
                total += math.prod(ir.tensor(op.outputs[0]).shape) * math.prod(weights[dims])
        macs.append(total)
    return macs


@dataclass(frozen=True)
class Reference:
    """What every emulated run must reproduce, per sample: host outputs, host checksums, TFLM outputs
    (one bytes object per model output)."""

    host_outputs: list[list[bytes]]
    host_checksums: list[list[int]]
    tflm_outputs: list[list[bytes]]


def reference_outputs(generated: GeneratedModel, tflite_bytes: bytes, samples: Sequence) -> Reference:
    from ..tflite.interpreters import run_tflm_batch

    samples = [sample_arrays(s, len(generated.inputs)) for s in samples]
    host = HostModel(generated, extra_flags=(f"-D{CHECKSUM_DEFINE}",))
    outputs, checksums = [], []
    for sample in samples:
        outputs.append([y.tobytes() for y in host.invoke_all(sample)])
        checksums.append(host.layer_checksums())
    tflm = [[y.tobytes() for y in ys] for ys in run_tflm_batch(tflite_bytes, samples)]
    return Reference(outputs, checksums, tflm)


def check_run(run: RunResult, reference: Reference, generated: GeneratedModel,
              diagnose_tflm: Callable[[int], str] | None = None) -> None:
    """CheckFailed naming the input and the first layer where the firmware left the host build,
    or where both left TFLM (then `diagnose_tflm(input)` says which layer)."""
    names = [layer.name for layer in generated.layers]
    n_outputs = len(generated.outputs)
    for number, expected in enumerate(reference.host_checksums):
        got = run.checksums.get(number)
        if got is None or len(got) != len(expected):
            raise CheckFailed(f"firmware printed no per-layer checksums for input {number}: "
                              f"was it built with -D{CHECKSUM_DEFINE}?")
        differing = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
        if differing is not None:
            raise CheckFailed(f"input {number}: layer {differing} ({names[differing]}) output differs between "
                              f"the emulated firmware and the host build (checksum {got[differing]:08x} vs "
                              f"{expected[differing]:08x})")
        for k in range(n_outputs):
            which = f"output {k} ({generated.outputs[k].name})" if n_outputs > 1 else "output"
            output = run.output(number * n_outputs + k)
            if output != reference.host_outputs[number][k]:
                raise CheckFailed(f"input {number}: {which} bytes differ between the emulated firmware and the host "
                                  "build although every layer checksum matches: check the output copy")
            if output != reference.tflm_outputs[number][k]:
                where = diagnose_tflm(number) if diagnose_tflm else "no per-layer reference was asked for"
                raise CheckFailed(f"input {number}: {which} differs from TFLite Micro ({where})")


def first_layer_off_reference(tflite_bytes: bytes, ir: ModelIR, names: Sequence[str], sample: Sequence[np.ndarray],
                              host_checksums: Sequence[int]) -> str:
    """Where the host build first leaves LiteRT's reference kernels (which round like TFLM) on `sample`:
    TFLM's Python runtime does not expose intermediate tensors, LiteRT keeps them all on request."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        interpreter = Interpreter(model_content=bytes(tflite_bytes),
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                                  experimental_preserve_all_tensors=True, num_threads=1)
        interpreter.allocate_tensors()
    except Exception as exc:  # LiteRT refuses some files TFLM runs (e.g. old per-tensor quantized_dimension)
        return f"LiteRT could not load the model to find the layer ({str(exc).strip().splitlines()[0]})"
    for detail, x in zip(interpreter.get_input_details(), sample):
        interpreter.set_tensor(detail["index"], np.ascontiguousarray(x))
    interpreter.invoke()
    for layer, expected in zip(ir.layers, host_checksums):
        if layer_checksum(interpreter.get_tensor(layer.outputs[0])) != expected:
            return f"first differing layer vs the reference kernels: layer {layer.index} ({names[layer.index]})"
    return "every layer equals LiteRT's reference kernels, so TFLM alone differs"


def _count_signature(run: RunResult) -> tuple:
    return (run.total_instructions, tuple(sorted(run.total_classes.items())), run.total_model_cycles,
            tuple((layer.index, layer.instructions, tuple(sorted(layer.classes.items())), layer.model_cycles)
                  for layer in run.layers))


def require_identical_counts(runs: Sequence[RunResult]) -> None:
    first = _count_signature(runs[0])
    for number, run in enumerate(runs[1:], start=2):
        if _count_signature(run) != first:
            differing = next((a.name for a, b in zip(runs[0].layers, run.layers)
                              if (a.instructions, a.classes) != (b.instructions, b.classes)), "the totals")
            raise CheckFailed(f"instruction counts of run {number} differ from run 1 (first in {differing}): "
                              "the emulation is not deterministic")


def layer_rows(ir: ModelIR, generated: GeneratedModel, run: RunResult, target: Target,
               flash_bytes: dict[int, int], latency_model: str = DEFAULT_LATENCY_MODEL) -> list[dict]:
    """Per generated layer, per inference: shapes, MACs, instruction mix and both latency
    estimates; `estimated_*` is the one `latency_model` names. Views (a reshape of the same
    bytes) run no code and show zero."""
    counted = {row["index"]: row for row in per_layer_means(run)}
    rows = []
    for layer, generated_layer, macs in zip(ir.layers, generated.layers, layer_macs(ir)):
        means = counted.get(layer.index)
        classes = means["classes"] if means else {}
        instructions = means["instructions"] if means else 0
        by_class = estimate_latency(classes, target, flash_bytes.get(layer.index, 0) if means else 0)
        model = means["model_cycles"] if means else None
        pipeline = pipeline_latency(model["cycles"], model["fetch"] + model["memory"], target.clock_hz) if model else None
        if latency_model == "pipeline" and means and pipeline is None:
            raise CheckFailed(f"layer {layer.index} ({generated_layer.name}) has no pipeline cycles: the run lacked "
                              "the timing model")
        chosen = pipeline if latency_model == "pipeline" and pipeline else by_class  # a view: 0 either way
        rows.append({
            "index": layer.index, "name": generated_layer.name, "op": layer.kind,
            "tflite_ops": generated_layer.tflite_ops, "tflite_op_indices": [op.index for op in layer.ops],
            "input_shapes": [list(ir.tensor(t).shape) for t in layer.inputs],
            "output_shape": list(ir.tensor(layer.outputs[0]).shape),
            "macs": macs, "instructions": instructions,
            "instr_per_mac": instructions / macs if macs else None,
            "classes": classes, "flash_bytes_read": flash_bytes.get(layer.index, 0) if means else 0,
            "classes_cycles": by_class.cycles, "classes_ms": by_class.ms,
            "pipeline_cycles": pipeline.cycles if pipeline else 0.0, "pipeline_ms": pipeline.ms if pipeline else 0.0,
            "pipeline_stalls": {k: model[k] for k in ("interlock", "branch", "fetch", "memory")} if model else None,
            "estimated_cycles": chosen.cycles, "estimated_ms": chosen.ms,
        })
    total_ms = sum(row["estimated_ms"] for row in rows)
    for row in rows:
        row["percent"] = 100 * row["estimated_ms"] / total_ms if total_ms else 0.0
    return rows


def totals_of(rows: Sequence[dict], target: Target) -> dict:
    macs = sum(row["macs"] for row in rows)
    instructions = sum(row["instructions"] for row in rows)
    cycles = sum(row["estimated_cycles"] for row in rows)
    ms = cycles / target.clock_hz * 1e3
    return {"macs": macs, "instructions": instructions, "instr_per_mac": instructions / macs if macs else None,
            "estimated_cycles": cycles, "estimated_ms": ms, "inferences_per_s": 1e3 / ms if ms else None,
            "classes_ms": sum(row["classes_ms"] for row in rows), "pipeline_ms": sum(row["pipeline_ms"] for row in rows)}


def memory_of(generated: GeneratedModel, build: BuildResult, target: Target, n_inputs: int) -> dict:
    code = target.placement["code"]
    board_regions = {m.name for m in target.memory}
    flash = sum(u.used for name, u in build.region_usage.items()
                if name in board_regions and target.region(name).kind == "flash")
    embedded = n_inputs * aligned_offsets([t.nbytes for t in generated.inputs])[1]
    inputs_in_board_flash = 0 if TEST_INPUTS_REGION in build.region_usage else embedded
    return {
        "arena_bytes": generated.arena_bytes, "weight_bytes": generated.weight_bytes,
        "embedded_input_bytes": embedded,
        # the emulation build's flash less its test inputs: what the model + kernels + runtime take
        "flash_bytes": flash - inputs_in_board_flash,
        "regions": {name: {"used": u.used, "size": u.size} for name, u in build.region_usage.items()},
        "code_region": code,
    }


def bench_tflite(
    tflite_bytes: bytes,
    target: Target,
    inputs: BenchInputs | Sequence,
    out_dir: Path | str,
    runs: int = 1,
    progress: Callable[[str], None] = _silent,
    *,
    timeout_s: float = 600.0,
    opt: str = "speed",
    fuse_mdw: bool = True,
    model_name: str = "model",
    latency_model: str = DEFAULT_LATENCY_MODEL,
) -> BenchResult:
    """Build, run `runs` times in QEMU (with the plugin's pipeline timing model), check against
    host and TFLM, and time every layer. The firmware is built in out_dir/firmware; reports are
    written by bench_report.write_bench_reports."""
    check_latency_model(latency_model)
    if runs < 1:
        raise FlynetError(f"--runs must be at least 1, got {runs}")
    if not isinstance(inputs, BenchInputs):
        inputs = BenchInputs(list(inputs), f"{len(inputs)} inputs given by the caller")
    if not inputs.samples:
        raise FlynetError("the benchmark needs at least one input")
    find_qemu()  # before minutes of compiling
    find_toolchain()
    timing = board_timing(target)
    firmware_dir = Path(out_dir) / "firmware"
    # Generating validates the model: progress starts once it is known good (bad input: one error line alone).
    generated = generate_model_sources(tflite_bytes, firmware_dir / "model", fuse_mdw=fuse_mdw,
                                       dsp_kernels=uses_dsp_kernels(opt))
    progress(f"inputs: {inputs.source}")
    progress(f"generated C for {model_name} ({len(tflite_bytes):,} bytes of .tflite)")
    ir = build_ir(tflite_bytes, fuse_mdw)
    progress(f"compiling {len(generated.layers)} layers for QEMU {target.emulator['qemu_machine']} "
             f"({target.board}, {target.core}) with {len(inputs.samples)} embedded inputs")
    build = build_model_firmware(generated, target, inputs.samples, firmware_dir, opt=opt, emulation=True,
                                 defines=[CHECKSUM_DEFINE])
    progress("running the same C on the host and TFLite Micro on the same inputs")
    reference = reference_outputs(generated, tflite_bytes, inputs.samples)
    names = [layer.name for layer in generated.layers]

    def diagnose(number: int) -> str:
        sample = sample_arrays(inputs.samples[number], len(generated.inputs))
        return first_layer_off_reference(tflite_bytes, ir, names, sample, reference.host_checksums[number])

    results = []
    for number in range(runs):
        progress(f"QEMU run {number + 1}/{runs} with the counting plugin and the {target.core} timing model")
        run = run_qemu(build.elf, target, timeout_s=timeout_s, timing=timing)
        run.raise_for_failure()
        check_run(run, reference, generated, diagnose)
        results.append(run)
    require_identical_counts(results)
    rows = layer_rows(ir, generated, results[0], target, weights_in_flash(build.elf, target), latency_model)
    n = len(inputs.samples)
    return BenchResult(
        model=model_name, target=target, inputs=n, input_source=inputs.source, runs=runs, opt=opt,
        generated=generated, build=build, layers=rows, totals=totals_of(rows, target),
        memory=memory_of(generated, build, target, n),
        checks={"host_bit_exact": True, "tflm_bit_exact": True, "layer_checksums_match_host": True,
                "counts_identical_across_runs": True, "total_instructions_per_run": results[0].total_instructions},
        latency_model=latency_model,
    )
