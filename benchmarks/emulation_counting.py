"""Emulation cost and latency estimates for an int8 dot product on both boards.

Builds a small program (an int8 dot product run REPS times inside one layer marker) for
each target's QEMU machine, runs it with and without the counting plugin, and prints
instructions per MAC, the latency model's cycles per MAC and milliseconds at the board
clock, and the wall time QEMU took (plugin overhead as a ratio).

    python benchmarks/emulation_counting.py [--length 4096] [--reps 1000] [--opt speed]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from flynet_tiny.build.make import build_firmware
from flynet_tiny.reporting import format_table
from flynet_tiny.sim.latency import estimate_latency
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target, target_names

PROGRAM = """
#include <stdint.h>
#include "fn_runtime.h"

static int8_t a[LENGTH], b[LENGTH];

__attribute__((noinline)) static int32_t dot_s8(const int8_t *x, const int8_t *y, int n)
{
    int32_t acc = 0;
    for (int i = 0; i < n; ++i)
        acc += x[i] * y[i];
    return acc;
}

int main(void)
{
    for (int i = 0; i < LENGTH; ++i) {
        a[i] = (int8_t)(i * 13);
        b[i] = (int8_t)(i * 7 + 1);
    }
    int32_t total = 0;
    fn_layer_begin(0, "dot_s8");
    for (int r = 0; r < REPS; ++r)
        total += dot_s8(a, b, LENGTH);
    fn_layer_end(0);
    fn_emit_output(0, &total, sizeof total);
    return 0;
}
"""


def timed_run(elf: Path, target, plugin: bool):
    start = time.perf_counter()
    result = run_qemu(elf, target, timeout_s=300, plugin=plugin)
    elapsed = time.perf_counter() - start
    result.raise_for_failure()
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--opt", choices=["size", "speed"], default="speed")
    args = parser.parse_args()
    macs = args.length * args.reps
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "dot.c"
        source.write_text(PROGRAM)
        for name in target_names():
            target = load_target(name)
            build = build_firmware(Path(tmp) / name, target, [source], opt=args.opt, emulation=True,
                                   defines=[f"LENGTH={args.length}", f"REPS={args.reps}"])
            counted, with_plugin_s = timed_run(build.elf, target, plugin=True)
            _, without_plugin_s = timed_run(build.elf, target, plugin=False)
            layer = counted.layers[0]
            estimate = estimate_latency(layer.classes, target)
            rows.append([
                f"{name} ({target.core})", layer.instructions, f"{layer.instructions / macs:.3f}",
                f"{estimate.cycles / macs:.3f}", f"{estimate.ms:.3f}",
                f"{without_plugin_s:.2f}", f"{with_plugin_s:.2f}", f"{with_plugin_s / without_plugin_s:.2f}x",
            ])
    print(f"int8 dot product, {args.length} x {args.reps} = {macs:,} MACs, -O{'s' if args.opt == 'size' else '2'}, plain C")
    print(format_table(
        ["target", "instructions", "instr/MAC", "est cycles/MAC", "est ms", "qemu s", "qemu+plugin s", "plugin cost"],
        rows, "lrrrrrrr"))


if __name__ == "__main__":
    main()
