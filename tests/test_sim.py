"""QEMU runner and counting plugin on hand-written programs (tests/sim_programs/)."""

import signal
from pathlib import Path

import pytest

from flynet_tiny.build.make import build_firmware
from flynet_tiny.errors import CheckFailed, FlynetError
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.sim.symbols import read_symbols
from flynet_tiny.targets import load_target

PROGRAMS = Path(__file__).parent / "sim_programs"
LOOP_BODY = {"load_store": 3, "mul_dsp": 3, "divide": 1, "fpu": 1, "alu": 2, "branch": 1, "other": 0}
# The segment also holds the begin marker's `bx lr` and the `bl` to the end marker.
SEGMENT_EXTRA = {"branch": 2}


def build_loop(tmp_path, target_name, n):
    return build_firmware(
        tmp_path / f"{target_name}-{n}", load_target(target_name),
        [PROGRAMS / "count_main.c", PROGRAMS / "count_loop.S"], defines=[f"LOOP_N={n}"], emulation=True,
    )


def build_fault(tmp_path, target_name, variant):
    return build_firmware(
        tmp_path / f"{target_name}-{variant}", load_target(target_name), [PROGRAMS / "fault_main.c"],
        defines=[variant] if variant else [], emulation=True,
    )


def expected_classes(n):
    return {k: v * n + SEGMENT_EXTRA.get(k, 0) for k, v in LOOP_BODY.items()}


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_loop_counts_are_exact_per_class(tmp_path, target_name):
    n = 1000
    result = run_qemu(build_loop(tmp_path, target_name, n).elf, load_target(target_name), timeout_s=30)
    assert result.ok, result.stderr
    [layer] = result.layers
    assert (layer.index, layer.name) == (0, "loop")
    assert layer.classes == expected_classes(n)
    assert layer.instructions == sum(expected_classes(n).values())


def test_counts_identical_across_runs_and_total_grows_by_the_loop(tmp_path):
    target = load_target("f446re")
    small, large = build_loop(tmp_path, "f446re", 100), build_loop(tmp_path, "f446re", 300)
    runs = [run_qemu(small.elf, target, timeout_s=30) for _ in range(3)]
    assert len({(r.total_instructions, tuple(r.total_classes.items()), tuple(r.instructions_per_marker)) for r in runs}) == 1
    bigger = run_qemu(large.elf, target, timeout_s=30)
    assert bigger.total_instructions - runs[0].total_instructions == 200 * sum(LOOP_BODY.values())


def test_hardfault_names_layer_and_faulting_instruction(tmp_path):
    build = build_fault(tmp_path, "f446re", None)
    result = run_qemu(build.elf, load_target("f446re"), timeout_s=30)
    assert result.exit_code == 70  # FN_EXIT_HARDFAULT in firmware/boards/common/fn_board.h
    assert (result.fault.kind, result.fault.layer_index, result.fault.layer_name) == ("hardfault", 2, "conv_bad")
    assert result.fault.registers["pc"] == read_symbols(build.elf)["fn_test_udf"]
    assert result.fault.registers["cfsr"] == 1 << 16  # UFSR.UNDEFINSTR
    assert result.fault.registers["hfsr"] == 1 << 30  # FORCED: escalated from UsageFault
    assert [(l.name, l.instructions is not None) for l in result.layers] == [("stem", True), ("conv_bad", False)]
    with pytest.raises(CheckFailed, match=r"hardfault in layer 2 \(conv_bad\)"):
        result.raise_for_failure()


def test_lockup_is_reported_with_the_running_layer(tmp_path):
    result = run_qemu(build_fault(tmp_path, "f746zg", "FAULT_LOCKUP").elf, load_target("f746zg"), timeout_s=30)
    assert result.exit_code != 0 and result.fault.kind == "lockup"
    assert result.running_layer == (2, "conv_bad")
    with pytest.raises(CheckFailed, match=r"lockup in layer 2 \(conv_bad\)"):
        result.raise_for_failure()


def qemu_processes_running(elf):
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(elf).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_hung_firmware_is_killed_at_the_timeout(tmp_path):
    build = build_fault(tmp_path, "f446re", "FAULT_HANG")
    result = run_qemu(build.elf, load_target("f446re"), timeout_s=1.0)
    assert result.timed_out and result.exit_code is None
    assert result.running_layer == (2, "conv_bad")
    assert qemu_processes_running(build.elf) == []
    with pytest.raises(CheckFailed, match=r"hung in layer 2 \(conv_bad\)"):
        result.raise_for_failure()


def test_ctrl_c_kills_qemu(tmp_path):
    build = build_fault(tmp_path, "f446re", "FAULT_HANG")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            run_qemu(build.elf, load_target("f446re"), timeout_s=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert qemu_processes_running(build.elf) == []


def test_real_board_build_is_refused(tmp_path):
    build = build_firmware(tmp_path / "real", load_target("f746zg"), [PROGRAMS / "fault_main.c"])
    with pytest.raises(FlynetError, match="real-board build.*`flynet-tiny build --target f746zg --emulation`"):
        run_qemu(build.elf, load_target("f746zg"))


def test_missing_qemu_names_the_debian_package(tmp_path, monkeypatch):
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FlynetError, match="apt-get install qemu-system-arm"):
        run_qemu(elf, load_target("f446re"))


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_emitted_outputs_come_back_byte_for_byte(tmp_path, target_name):
    target = load_target(target_name)
    build = build_firmware(tmp_path / "fw", target, [PROGRAMS / "output_main.c"], emulation=True)
    result = run_qemu(build.elf, target, timeout_s=30, plugin=False)
    assert result.ok
    assert result.output(0) == bytes((i * 7) % 256 for i in range(300))
    assert result.output(1) == b""
    assert result.output(2) == (-3).to_bytes(1, "little", signed=True)
    assert result.console == "done\n"
    assert result.total_instructions is None  # no plugin, no counts


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_emulated_machine_backs_every_ram_region_of_the_board(tmp_path, target_name):
    from flynet_tiny.build.linker_script import memory_regions

    target = load_target(target_name)
    ram = [r for r in memory_regions(target, emulation=True) if r.kind == "ram"]
    probes = [address for r in ram for address in (r.origin, r.origin + r.length - 4)]
    build = build_firmware(tmp_path / "fw", target, [PROGRAMS / "ram_probe.c"], emulation=True,
                           defines=["RAM_PROBES=" + ",".join(f"0x{a:08X}u" for a in probes)])
    result = run_qemu(build.elf, target, timeout_s=30, plugin=False)
    assert result.ok, result.console
