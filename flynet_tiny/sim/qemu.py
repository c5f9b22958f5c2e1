"""Run an emulation build in qemu-system-arm and collect its output and instruction counts.

    result = run_qemu(elf, load_target("f746zg"), timeout_s=60)
    result.exit_code, result.layers[0].instructions, result.layers[0].classes["mul_dsp"]
    result.raise_for_failure()   # CheckFailed naming fault / lock-up / timeout and the layer
    timed = run_qemu(elf, target, timing=board_timing(target))   # + the plugin's cycle model
    timed.layers[0].model_cycles.cycles

QEMU runs with `-icount shift=0`, so a run is deterministic. The firmware's console is
Arm semihosting; `exit(n)` in the firmware becomes QEMU's exit status. QEMU runs in its own
process group, which is killed on timeout, on Ctrl-C and on any error in this process.

Layer attribution: the firmware runtime prints `@layer-begin <index> <name>` and calls the
marker functions the counting plugin watches (firmware/runtime/fn_runtime.h); the n-th
counted segment is the n-th layer begun.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CheckFailed, FlynetError
from ..processes import kill_group, start_tool, stop_group
from ..targets import Target
from .elf_check import check_emulation_elf, read_load_segments
from .plugin import build_counting_plugin
from .symbols import read_symbols
from .timing import BoardTiming

MARKER_BEGIN = "fn_marker_layer_begin"
MARKER_END = "fn_marker_layer_end"


@dataclass(frozen=True)
class ModelCycles:
    """The plugin's cycle model for a segment: total cycles and the stalls inside them."""

    cycles: int
    interlock: int  # waiting for operands: load-use, address generation, multiply latency
    branch: int  # refills after taken or mispredicted branches
    fetch: int  # instruction fetch behind a missing cache / accelerator line
    memory: int  # data loads behind a missing cache / accelerator line

    @property
    def memory_stalls(self) -> int:
        return self.fetch + self.memory


@dataclass(frozen=True)
class LayerRun:
    """One executed layer: `index` and `name` as the firmware passed them to fn_layer_begin."""

    seq: int
    index: int
    name: str
    instructions: int | None  # None when the run had no plugin or stopped inside the layer
    classes: dict[str, int]
    cycles: int | None  # the board's cycle counter (0 under QEMU, where DWT is not modelled)
    model_cycles: ModelCycles | None = None  # the plugin's cycle model, when the run had one


@dataclass(frozen=True)
class Fault:
    kind: str  # "hardfault", "exception" or "lockup"
    layer_index: int | None
    layer_name: str | None
    registers: dict[str, int]
    message: str


@dataclass
class RunResult:
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool
    layers: list[LayerRun] = field(default_factory=list)
    total_instructions: int | None = None
    total_classes: dict[str, int] = field(default_factory=dict)
    total_model_cycles: ModelCycles | None = None
    fault: Fault | None = None
    running_layer: tuple[int, str] | None = None  # begun and not ended when the run stopped
    # fn_emit_output, in print order; the bench main numbers them sample * FLYNET_OUTPUT_COUNT + output
    outputs: list[tuple[int, bytes]] = field(default_factory=list)
    # `@checksums <input> ...` lines (fn_bench_main.c with FLYNET_LAYER_CHECKSUMS): per input, one per layer
    checksums: dict[int, list[int]] = field(default_factory=dict)

    @property
    def instructions_per_marker(self) -> list[int | None]:
        return [layer.instructions for layer in self.layers]

    def output(self, index: int) -> bytes:
        """The bytes the firmware emitted with fn_emit_output(index, ...)."""
        found = [data for i, data in self.outputs if i == index]
        if len(found) != 1:
            raise KeyError(f"firmware emitted output {index} {len(found)} times")
        return found[0]

    @property
    def console(self) -> str:
        """The firmware's own output, without the runner's @layer / @output lines."""
        return "".join(l for l in self.stdout.splitlines(keepends=True) if not l.startswith(("@layer-", "@output ", "@checksums ")))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.fault is None

    def raise_for_failure(self) -> None:
        """CheckFailed with one line saying what went wrong and in which layer."""
        if self.ok:
            return
        where = f" in layer {self.running_layer[0]} ({self.running_layer[1]})" if self.running_layer else ""
        if self.fault is not None:
            raise CheckFailed(f"firmware {self.fault.kind}{where}: {self.fault.message}")
        if self.timed_out:
            raise CheckFailed(f"firmware hung{where}: killed at the timeout; raise --timeout if it is just slow")
        raise CheckFailed(f"firmware exited with status {self.exit_code}{where}")


def find_qemu() -> Path:
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        raise FlynetError("qemu-system-arm not found: apt-get install qemu-system-arm")
    return Path(qemu)


def qemu_command(qemu: Path, elf: Path, target: Target, plugin_args: str | None) -> list[str]:
    cmd = [
        str(qemu), "-M", str(target.emulator["qemu_machine"]),
        "-nographic", "-monitor", "none", "-serial", "null",
        "-semihosting-config", "enable=on,target=native",
        "-icount", "shift=0",
        "-kernel", str(elf),
    ]
    if plugin_args:
        cmd += ["-plugin", plugin_args]
    return cmd


def _no_core_dumps() -> None:
    # A lock-up makes QEMU abort(); its core file is of no use and may be large.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def plugin_argument(
    counts_path: Path,
    markers: tuple[int, int] | None = None,
    exclude: tuple[int, int] | None = None,
    timing: BoardTiming | None = None,
) -> str:
    """QEMU's -plugin value: the counting plugin writing to `counts_path`, counting per segment
    between the marker addresses (begin, end), leaving out the code in [lo, hi), and with
    `timing` its cycle model of that board."""
    args = [str(build_counting_plugin()), f"out={counts_path}"]
    if markers:
        args += [f"begin=0x{markers[0]:x}", f"end=0x{markers[1]:x}"]
    if exclude:
        args += [f"xlo=0x{exclude[0]:x}", f"xhi=0x{exclude[1]:x}"]
    if timing:
        args += timing.plugin_args()
    return ",".join(args)


def run_qemu(
    elf: Path | str,
    target: Target,
    timeout_s: float = 60.0,
    plugin: bool = True,
    keep_counts: Path | str | None = None,
    timing: BoardTiming | None = None,
    progress=lambda message: None,
) -> RunResult:
    """Run `elf` (an emulation build for `target`) until it exits, faults or times out; with
    `timing`, the plugin also estimates cycles per layer on that board. `progress` hears about the
    start once the file is known to be an emulation build for the target."""
    elf = Path(elf)
    if not elf.is_file():
        raise FlynetError(f"firmware {elf} not found: build it first")
    if timeout_s <= 0:
        raise FlynetError(f"timeout must be positive, got {timeout_s}")
    for path in (elf, keep_counts):
        if path is not None and "," in str(Path(path).resolve()):
            raise FlynetError(f"path {path} contains a comma, which QEMU's option parser splits: move or rename it")
    qemu = find_qemu()
    segments = read_load_segments(elf)  # the header first: a file that is no Arm ELF fails before nm reads it
    symbols = read_symbols(elf)
    check_emulation_elf(elf, target, symbols, segments)
    progress(f"running {elf} on QEMU {target.emulator['qemu_machine']} (timeout {timeout_s:g} s)")
    with tempfile.TemporaryDirectory(prefix="flynet-qemu-") as tmp:
        counts_path = Path(keep_counts) if keep_counts else Path(tmp) / "counts.txt"
        plugin_args = None
        if plugin:
            begin, end = symbols.get(MARKER_BEGIN), symbols.get(MARKER_END)
            markers = (begin, end) if begin is not None and end is not None else None
            plugin_args = plugin_argument(counts_path, markers, timing=timing)
        proc = start_tool(qemu_command(qemu, elf, target, plugin_args), what="qemu-system-arm",
                          preexec_fn=_no_core_dumps)
        timed_out = False
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            stdout, stderr = stop_group(proc)  # SIGTERM first: the plugin writes its totals
        except BaseException:
            kill_group(proc)
            proc.wait()
            raise
        counts = counts_path.read_text() if plugin and counts_path.is_file() else ""
    exit_code = None if timed_out else proc.returncode
    return _assemble(stdout, stderr, exit_code, timed_out, counts)


_BEGIN = re.compile(r"^@layer-begin (-?\d+) (\S+)$")
_END = re.compile(r"^@layer-end (-?\d+) cycles=(\d+)$")
_OUTPUT = re.compile(r"^@output (-?\d+) ([0-9a-f]*)$")
_CHECKSUMS = re.compile(r"^@checksums (-?\d+)((?: [0-9a-f]{8})*)$")
_FAULT = re.compile(r"^\*\*\* (HardFault|unexpected exception \d+) layer=(-?\d+) name=(\S+)(.*)$")
_REGISTER = re.compile(r"(\w+)=0x([0-9a-fA-F]+)")
_LOCKUP = re.compile(r"qemu: fatal: (Lockup[^\n]*)")
_QEMU_REGISTER = re.compile(r"\b(R\d\d|XPSR)=([0-9a-fA-F]{8})")


@dataclass(frozen=True)
class PluginCounts:
    """What the counting plugin wrote: per closed segment (instructions, classes) and, with a
    timing model, cycles; the whole run's totals."""

    segments: list[tuple[int, dict[str, int]]]
    segment_cycles: list[ModelCycles]
    total: tuple[int, dict[str, int]] | None
    total_cycles: ModelCycles | None


def parse_plugin_counts(text: str) -> PluginCounts:
    names: list[str] = []
    segments: list[tuple[int, dict[str, int]]] = []
    cycles: list[ModelCycles] = []
    total = total_cycles = None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "#":
            names = parts[1:]
        elif parts[0] == "E":
            values = [int(v) for v in parts[2:]]
            segments.append((values[0], dict(zip(names, values[1:]))))
        elif parts[0] == "C":
            cycles.append(ModelCycles(*(int(v) for v in parts[2:7])))
        elif parts[0] == "T":
            values = [int(v) for v in parts[1:]]
            total = (values[0], dict(zip(names, values[1:])))
        elif parts[0] == "TC":
            total_cycles = ModelCycles(*(int(v) for v in parts[1:6]))
    return PluginCounts(segments, cycles, total, total_cycles)


def _assemble(stdout: str, stderr: str, exit_code: int | None, timed_out: bool, counts: str) -> RunResult:
    parsed = parse_plugin_counts(counts)
    segments, total = parsed.segments, parsed.total
    begun: list[tuple[int, str]] = []
    cycles: list[int] = []
    fault = None
    outputs = []
    checksums = {}
    for line in stdout.splitlines():
        if m := _OUTPUT.match(line):
            outputs.append((int(m[1]), bytes.fromhex(m[2])))
        elif m := _CHECKSUMS.match(line):
            checksums[int(m[1])] = [int(v, 16) for v in m[2].split()]
        elif m := _BEGIN.match(line):
            begun.append((int(m[1]), m[2]))
        elif m := _END.match(line):
            cycles.append(int(m[2]))
        elif m := _FAULT.match(line):
            registers = {k: int(v, 16) for k, v in _REGISTER.findall(m[4])}
            kind = "hardfault" if m[1] == "HardFault" else "exception"
            index = int(m[2])
            fault = Fault(kind, index if index >= 0 else None, None if m[3] == "-" else m[3], registers,
                          f"{m[1]} {m[4].strip()}")
    if fault is None and (lockup := _LOCKUP.search(stderr)):
        registers = {k.lower(): int(v, 16) for k, v in _QEMU_REGISTER.findall(stderr)}
        pc = registers.get("r15")
        detail = f" at pc=0x{pc:08x}" if pc is not None else ""
        fault = Fault("lockup", None, None, registers, f"{lockup[1].strip()}{detail}")
    layers = []
    for seq, (index, name) in enumerate(begun):
        finished = seq < len(cycles)
        counted = segments[seq] if finished and seq < len(segments) else None
        layers.append(LayerRun(
            seq, index, name,
            counted[0] if counted else None,
            counted[1] if counted else {},
            cycles[seq] if finished else None,
            parsed.segment_cycles[seq] if counted and seq < len(parsed.segment_cycles) else None,
        ))
    running = begun[len(cycles)] if len(begun) > len(cycles) else None
    if fault is not None and fault.kind == "lockup" and running is not None:
        fault = Fault(fault.kind, running[0], running[1], fault.registers, fault.message)
    return RunResult(
        stdout=stdout, stderr=stderr, exit_code=exit_code, timed_out=timed_out, layers=layers,
        total_instructions=total[0] if total else None, total_classes=total[1] if total else {},
        total_model_cycles=parsed.total_cycles,
        fault=fault, running_layer=running, outputs=outputs, checksums=checksums,
    )
