"""How far the latency models are from hardware: published measurements of builds we can
reproduce, re-run under QEMU with the plugin's pipeline timing model.

    PYTHONPATH=. python3 benchmarks/latency_calibration.py [--models DIR] [--runner DIR] [--skip-ours]

1. MLPerf Tiny v0.5, closed/reference (mlcommons/tiny_results_v0.5): TFLite Micro 2.3.1 + CMSIS-NN,
   Mbed OS, GCC 6, -Os, on a NUCLEO-L4R5ZI (Cortex-M4F, 120 MHz, 5 flash wait states). The same four
   architectures (int8 TF-converter builds from tests/corpus) run on today's TFLM + CMSIS-NN -Os
   runner (../shared/baselines/tflm-cmsis-nn) on QEMU netduinoplus2, timed with the board file
   benchmarks/boards/nucleo_l4r5zi.toml (its ART caches, no prefetch, as Mbed configures it).
   Both models are shown, plus two bounds from the same instruction stream: every memory access
   at zero wait states, and the ART caches switched off (every flash access waits).
2. flynet-tiny's own firmware on the same models where the code generator takes them: bit-exact
   bench on the F446RE, then the same ELF timed as on the NUCLEO-L4R5ZI.
3. The F746ZG: our firmware's pipeline estimate and today's TFLM + CMSIS-NN (-O2 runner, timed at
   the board's memories) beside the fastest published results on the same MCU (MLPerf Tiny v1.1
   closed, DISCO-F746NG at 216 MHz: Bosch, Plumerai).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tflm_baseline import find_dir, load_runner  # noqa: E402

from flynet_tiny.tflite.interpreters import random_samples  # noqa: E402
from flynet_tiny.errors import FlynetError  # noqa: E402
from flynet_tiny.reporting import format_table  # noqa: E402
from flynet_tiny.data.model_inputs import BenchInputs  # noqa: E402
from flynet_tiny.sim.bench import bench_tflite  # noqa: E402
from flynet_tiny.sim.latency import estimate_latency  # noqa: E402
from flynet_tiny.sim.qemu import find_qemu, parse_plugin_counts, plugin_argument, run_qemu  # noqa: E402
from flynet_tiny.sim.report import per_layer_means  # noqa: E402
from flynet_tiny.sim.timing import BoardTiming, board_timing, board_timing_file  # noqa: E402
from flynet_tiny.targets import load_target  # noqa: E402
from flynet_tiny.tflite import read_tflite  # noqa: E402

L4R5 = ROOT / "benchmarks" / "boards" / "nucleo_l4r5zi.toml"
V05 = "MLPerf Tiny v0.5 closed/reference, NUCLEO-L4R5ZI"
# (corpus file, measured ms per inference) from mlcommons/tiny_results_v0.5 closed/reference/results/
# Nucleo-L4R5ZI/<task>/performance/results.txt (median throughput: 1.420, 1.665, 5.497, 99.5 inf./s)
MODELS = {
    "ResNet-8 (IC)": ("mlperf_resnet8_int8.tflite", 704.25),
    "MobileNetV1 0.25 (VWW)": ("mlperf_mobilenetv1_vww_int8.tflite", 600.54),
    "DS-CNN (KWS)": ("mlperf_dscnn_kws_int8.tflite", 181.92),
    "FC autoencoder (AD)": ("mlperf_fc_autoencoder_int8.tflite", 10.05),
}
# MLPerf Tiny v1.1 closed, DISCO-F746NG (216 MHz), median throughput -> ms: the fastest per task.
F746_LEADERS = {
    "ResNet-8 (IC)": (61.57, "Bosch"),
    "MobileNetV1 0.25 (VWW)": (34.08, "Plumerai"),
    "DS-CNN (KWS)": (17.75, "Plumerai"),
    "FC autoencoder (AD)": (1.703, "Bosch"),
}


class OneRandomInput:  # run.py's input arguments: one inference of random bytes, seed 0
    inputs, random, seed, arena_limit = None, 1, 0, 0


def run_tflm(runner, runner_dir: Path, model: Path, target_name: str, opt: str, timing: BoardTiming, tmp: Path):
    """One Invoke of the TFLM + CMSIS-NN runner under the timing model: (instructions, classes, cycles)."""
    machine = runner.TARGETS[target_name]
    elf = runner_dir / runner.OPTS[opt].format(target_name)
    symbols = runner.elf_symbols(elf)
    model_bytes = model.read_bytes()
    sets = runner.input_sets(runner.model_inputs(model_bytes), OneRandomInput)
    blob, model_offset, _ = runner.build_inputs_bin(sets, len(model_bytes))
    (tmp / "inputs.bin").write_bytes(blob)
    (tmp / "model.tflite").write_bytes(model_bytes)
    counts = tmp / "counts.txt"
    markers = (symbols["fn_marker_invoke_begin"], symbols["fn_marker_invoke_end"])
    excluded = (symbols["__fn_instr_start"], symbols["__fn_instr_end"])
    io = symbols["__tflm_io_base"]
    cmd = [str(find_qemu()), "-M", machine, "-nographic", "-monitor", "none", "-serial", "null",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf),
           "-device", f"loader,file={tmp / 'inputs.bin'},addr=0x{io:x},force-raw=on",
           "-device", f"loader,file={tmp / 'model.tflite'},addr=0x{io + model_offset:x},force-raw=on",
           "-plugin", plugin_argument(counts, markers, excluded, timing)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if "@done" not in proc.stdout:
        raise FlynetError(f"TFLM runner did not finish on {model.name}: {(proc.stdout + proc.stderr).strip()[-300:]}")
    parsed = parse_plugin_counts(counts.read_text())
    (instructions, classes), cycles = parsed.segments[0], parsed.segment_cycles[0]
    return instructions, classes, cycles


def without_caches(timing: BoardTiming) -> BoardTiming:
    return dataclasses.replace(timing, icache=(1, 1, timing.icache[2]), dcache=(1, 1, timing.dcache[2]))


def zero_wait(timing: BoardTiming) -> BoardTiming:
    return dataclasses.replace(timing, regions=tuple(dataclasses.replace(r, miss_cycles=0) for r in timing.regions))


def f746_runner_timing() -> BoardTiming:
    """The F746ZG's timing at the TFLM runner's mps2-an500 addresses: code (SSRAM1) and the model
    (PSRAM, loaded there by QEMU) as the board's flash over AXI, the first 64 KB of RAM (stack,
    data) as DTCM, the arena above it as SRAM1 behind the L1 D-cache."""
    board = board_timing(load_target("f746zg"))
    flash, sram1 = board.region("FLASH"), board.region("SRAM1")
    regions = (dataclasses.replace(flash, lo=0x0, hi=0x40_0000),
               dataclasses.replace(flash, name="IO", lo=0x6000_0000, hi=0x6100_0000),
               dataclasses.replace(board.region("DTCM"), lo=0x2000_0000, hi=0x2001_0000),
               dataclasses.replace(sram1, lo=0x2001_0000, hi=0x2040_0000))
    return dataclasses.replace(board, regions=regions)


def weight_bytes(model: Path) -> int:
    return sum(t.nbytes for t in read_tflite(model.read_bytes()).tensors if t.is_constant)


def drivers(cycles, instructions: int, measured_cycles: float) -> str:
    parts = [f"{name} {100 * getattr(cycles, name) / cycles.cycles:.0f}%"
             for name in ("branch", "memory", "fetch", "interlock") if getattr(cycles, name)]
    return (f"stalls: {', '.join(parts)}; CPI {cycles.cycles / instructions:.2f} vs measured "
            f"{measured_cycles / instructions:.2f} at today's instruction count")


def calibration(runner, runner_dir: Path, models: dict[str, Path], tmp: Path) -> list[list]:
    board = board_timing_file(L4R5)
    # the class model: the F446RE's Cortex-M4 costs at the L4R5's clock and wait states
    classes_target = dataclasses.replace(load_target("f446re"), clock_hz=board.clock_hz, flash_wait_states=5)
    rows = []
    for point, (file, measured_ms) in MODELS.items():
        model = models[point]
        instructions, classes, cycles = run_tflm(runner, runner_dir, model, "f446re", "Os", board, tmp)
        bounds = [run_tflm(runner, runner_dir, model, "f446re", "Os", variant, tmp)[2].cycles
                  for variant in (zero_wait(board), without_caches(board))]
        ms = 1e3 / board.clock_hz
        by_class = estimate_latency(classes, classes_target, weight_bytes(model)).ms
        pipeline = cycles.cycles * ms
        measured_cycles = measured_ms / ms
        rows.append([point, f"{measured_ms:.2f}", f"{by_class:.1f}", f"{100 * (by_class / measured_ms - 1):+.0f}%",
                     f"{pipeline:.1f}", f"{100 * (pipeline / measured_ms - 1):+.0f}%",
                     f"{bounds[0] * ms:.1f} .. {bounds[1] * ms:.1f}", f"{instructions:,}",
                     drivers(cycles, instructions, measured_cycles)])
        print(f"  {point}: {pipeline:.1f} ms (measured {measured_ms})", file=sys.stderr, flush=True)
    return rows


def ours(runner, runner_dir: Path, models: dict[str, Path], tmp: Path) -> tuple[list[list], list[list]]:
    """flynet-tiny firmware: the F446RE bench timed as the NUCLEO-L4R5ZI; on the F746ZG beside
    today's TFLM + CMSIS-NN (-O2 runner) and the published leaders."""
    l4r5 = board_timing_file(L4R5)
    f746 = f746_runner_timing()
    m4_rows, m7_rows = [], []
    for point, (file, measured_ms) in MODELS.items():
        tflm_cycles = run_tflm(runner, runner_dir, models[point], "f746zg", "O2", f746, tmp)[2].cycles
        tflm_ms = f"{tflm_cycles / f746.clock_hz * 1e3:.2f}"
        tflite = models[point].read_bytes()
        inputs = BenchInputs(random_samples(tflite, 2), "2 random inputs (seed 0, in the model's input types)")
        try:
            f446 = bench_tflite(tflite, load_target("f446re"), inputs, tmp / f"f446-{file}", model_name=point)
            f746_bench = bench_tflite(tflite, load_target("f746zg"), inputs, tmp / f"f746-{file}", model_name=point)
        except FlynetError as error:
            m4_rows.append([point, "not generated", "", "", "", str(error).splitlines()[0][:90]])
            m7_rows.append([point, "not generated", "", tflm_ms, f"{F746_LEADERS[point][0]:.2f} ({F746_LEADERS[point][1]})",
                            ""])
            continue
        run = run_qemu(f446.build.elf, load_target("f446re"), timeout_s=1800, timing=l4r5)
        run.raise_for_failure()
        layers = per_layer_means(run)
        l4r5_ms = sum(l["model_cycles"]["cycles"] for l in layers if l["model_cycles"]) / l4r5.clock_hz * 1e3
        m4_rows.append([point, f"{f446.totals['instructions']:,.0f}", f"{f446.totals['pipeline_ms']:.1f}",
                        f"{f446.totals['classes_ms']:.1f}", f"{l4r5_ms:.1f}", f"{measured_ms:.2f} (TFLM 2.3.1 reference)"])
        leader_ms, leader = F746_LEADERS[point]
        m7_rows.append([point, f"{f746_bench.totals['pipeline_ms']:.2f}", f"{f746_bench.totals['classes_ms']:.2f}",
                        tflm_ms, f"{leader_ms:.2f} ({leader})", f"{f746_bench.totals['pipeline_ms'] / leader_ms:.2f}"])
    return m4_rows, m7_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="folder holding the corpus .tflite files [default: tests/corpus]")
    parser.add_argument("--runner", help="the TFLM + CMSIS-NN runner [default: shared/baselines/tflm-cmsis-nn]")
    parser.add_argument("--skip-ours", action="store_true", help="only the TFLM calibration points")
    args = parser.parse_args()
    corpus = find_dir(args.models, "tests/corpus", "the model corpus")
    runner_dir = find_dir(args.runner, "shared/baselines/tflm-cmsis-nn", "the TFLM + CMSIS-NN runner")
    runner = load_runner(runner_dir)
    with tempfile.TemporaryDirectory(prefix="latency-calibration-") as folder:
        tmp = Path(folder)
        models = {}
        for point, (file, _) in MODELS.items():
            if not (corpus / file).is_file():
                raise FlynetError(f"{corpus / file} not found: the corpus lacks the MLPerf Tiny models")
            models[point] = Path(shutil.copy(corpus / file, tmp / file))
        print(f"1. {V05}: TFLM + CMSIS-NN today, -Os, timed as the NUCLEO-L4R5ZI (120 MHz, 5 wait states, ART "
              "caches on, prefetch off)", flush=True)
        rows = calibration(runner, runner_dir, models, tmp)
        print(format_table(["point", "measured ms", "classes ms", "err", "pipeline ms", "err",
                            "bounds ms (0 WS .. no caches)", "instructions", "what drives the error"],
                           rows, "lrrrrrrrl"))
        if args.skip_ours:
            return 0
        m4_rows, m7_rows = ours(runner, runner_dir, models, tmp)
        print("\n2. flynet-tiny firmware on the same models (bit-exact bench on the F446RE, 2 random inputs)")
        print(format_table(["model", "instructions", "F446RE pipeline ms", "F446RE classes ms",
                            "as NUCLEO-L4R5ZI ms", "TFLM measured there"], m4_rows, "lrrrrl"))
        print("\n3. F746ZG (216 MHz): flynet-tiny's pipeline estimate beside the fastest published results "
              "(MLPerf Tiny v1.1 closed, DISCO-F746NG)")
        print(format_table(["model", "ours pipeline ms", "ours classes ms", "TFLM -O2 pipeline ms",
                            "published leader ms", "ours / leader"], m7_rows, "lrrrrr"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FlynetError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
