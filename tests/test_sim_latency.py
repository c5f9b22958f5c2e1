"""Latency model and the `flynet-tiny emulate` command."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from flynet_tiny.cli import cli
from flynet_tiny.build.make import build_firmware
from flynet_tiny.errors import FlynetError
from flynet_tiny.sim.latency import CORE_TIMINGS, estimate_latency
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target

PROGRAMS = Path(__file__).parent / "sim_programs"


@pytest.fixture(scope="module")
def loop_builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("latency")
    return {
        name: build_firmware(out / name, load_target(name), [PROGRAMS / "count_main.c", PROGRAMS / "count_loop.S"],
                             defines=["LOOP_N=50"], emulation=True)
        for name in ("f446re", "f746zg")
    }


def test_single_cycle_alu_work_converts_at_the_board_clock():
    target = load_target("f446re")
    estimate = estimate_latency({"alu": target.clock_hz // 1000}, target)  # 1 ms of 1-cycle ALU ops on the M4
    assert estimate.cycles == target.clock_hz // 1000
    assert estimate.ms == pytest.approx(1.0)


def test_flash_streaming_costs_wait_states_per_line():
    target = load_target("f446re")
    line = CORE_TIMINGS[target.core].flash_line_bytes
    estimate = estimate_latency({}, target, flash_bytes_read=3 * line + 1)
    assert estimate.flash_stall_cycles == 4 * target.flash_wait_states


def test_every_counted_class_has_a_cost_on_both_cores(loop_builds):
    for name, build in loop_builds.items():
        target = load_target(name)
        result = run_qemu(build.elf, target, timeout_s=30)
        assert set(result.total_classes) == set(CORE_TIMINGS[target.core].cycles_per_class)


def test_dual_issue_m7_needs_fewer_cycles_for_the_same_loop(loop_builds):
    counts = {name: run_qemu(b.elf, load_target(name), timeout_s=30).layers[0].classes for name, b in loop_builds.items()}
    assert counts["f446re"] == counts["f746zg"]  # same machine code on both cores
    m4 = estimate_latency(counts["f446re"], load_target("f446re"))
    m7 = estimate_latency(counts["f746zg"], load_target("f746zg"))
    assert m7.cycles < m4.cycles


def test_unknown_class_is_refused():
    with pytest.raises(FlynetError, match="have no cost for cortex-m4"):
        estimate_latency({"vector": 3}, load_target("f446re"))


def test_emulate_command_reports_layers_and_fails_on_a_fault(loop_builds, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["emulate", str(loop_builds["f446re"].elf), "--target", "f446re", "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert [(l["index"], l["name"]) for l in report["layers"]] == [(0, "loop")]
    assert report["layers"][0]["instructions"] == sum(report["layers"][0]["classes"].values())

    fault = build_firmware(tmp_path / "fault", load_target("f446re"), [PROGRAMS / "fault_main.c"], emulation=True)
    failed = runner.invoke(cli, ["emulate", str(fault.elf), "--target", "f446re"])
    assert failed.exit_code == 1
    assert isinstance(failed.exception, FlynetError) and "hardfault in layer 2 (conv_bad)" in str(failed.exception)


def test_table_rows_are_per_layer_means_over_runs():
    from flynet_tiny.sim.qemu import LayerRun, RunResult
    from flynet_tiny.sim.report import per_layer_means

    layers = [LayerRun(0, 0, "conv", 10, {"alu": 6, "branch": 4}, 0), LayerRun(1, 1, "fc", 5, {"alu": 5, "branch": 0}, 0),
              LayerRun(2, 0, "conv", 14, {"alu": 8, "branch": 6}, 0), LayerRun(3, 1, "fc", None, {}, None)]
    rows = per_layer_means(RunResult("", "", None, True, layers))
    assert [(r["index"], r["name"], r["runs"], r["counted_runs"]) for r in rows] == [(0, "conv", 2, 2), (1, "fc", 2, 1)]
    assert rows[0]["classes"] == {"alu": 7, "branch": 5} and rows[0]["instructions"] == 12
    assert rows[1]["instructions"] == 5


def test_layer_weights_in_flash_are_read_from_the_elf(tmp_path):
    from flynet_tiny.sim.report import weights_in_flash

    source = tmp_path / "weights.c"
    source.write_text(
        "#include <stdint.h>\n"
        '__attribute__((section(".fn_weights.a"))) const int8_t l3_weights[100] = {1};\n'
        '__attribute__((section(".fn_weights.b"))) const int32_t l3_bias[6] = {1};\n'
        '__attribute__((section(".fn_weights.c"))) const int8_t l12_weights[40] = {1};\n'
        "int8_t l4_buffer[64];\n"  # a RAM array: not streamed from flash
        "int main(void) { return l3_weights[l4_buffer[0]] + (int)l3_bias[l4_buffer[1]] + l12_weights[l4_buffer[2]]; }\n")
    target = load_target("f746zg")
    build = build_firmware(tmp_path / "fw", target, [source], emulation=True)
    assert weights_in_flash(build.elf, target) == {3: 100 + 6 * 4, 12: 40}
