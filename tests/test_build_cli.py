"""`flynet-tiny build`: generated model + kernels + board support, built from a .tflite."""

import json

import pytest
from click.testing import CliRunner

from codegen_models import mixed_ops_model
from flynet_tiny.cli import cli
from flynet_tiny.errors import FlynetError
from flynet_tiny.targets import load_target


def test_build_command_produces_firmware_and_sizes(tmp_path):
    model = tmp_path / "export" / "model_int8.tflite"
    model.parent.mkdir()
    model.write_bytes(mixed_ops_model())
    out = tmp_path / "fw"
    result = CliRunner().invoke(cli, ["build", "--target", "f746zg", "--model", str(model.parent), "--out", str(out),
                                      "--opt", "speed", "--inputs", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    target = load_target("f746zg")
    assert set(report["regions"]) == {r.name for r in target.memory}
    assert report["regions"]["FLASH"]["size"] == target.region("FLASH").length
    for kind in ("elf", "bin", "hex", "map"):
        assert (out / f"firmware.{kind}").is_file() and report[kind] == str(out / f"firmware.{kind}")
    assert (out / "model" / "model.c").is_file() and (out / "Makefile").is_file()
    # the planned arena is all that lives in the target's arena region (SRAM1 on the F746ZG)
    arena_bytes = json.loads((out / "model" / "memory_plan.json").read_text())["arena_bytes"]
    assert report["regions"][target.placement["arena"]]["used"] == arena_bytes


@pytest.mark.parametrize("args, message", [
    (["--emulation", "--library"], "--emulation and --library exclude each other"),
    (["--model", "missing-folder"], "model missing-folder not found"),
])
def test_build_command_bad_input(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["build", "--target", "f446re", "--out", str(tmp_path / "fw"), *args])
    assert isinstance(result.exception, FlynetError) and message in str(result.exception)
    assert not (tmp_path / "fw").exists()


def test_export_folder_without_model_says_what_to_run(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--target", "f446re", "--model", str(tmp_path)])
    assert isinstance(result.exception, FlynetError)
    assert "no model_int8.tflite" in str(result.exception) and "flynet-tiny export" in str(result.exception)


def test_the_readme_order_build_then_emulate_says_how_and_then_works(tmp_path, monkeypatch):
    """`build` (a board build), then `emulate` on it: one line naming the commands for an emulation build;
    run as printed, they give a firmware that emulates."""
    import re
    import shlex

    monkeypatch.chdir(tmp_path)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "model_int8.tflite").write_bytes(mixed_ops_model())
    assert CliRunner().invoke(cli, ["build", "--target", "f446re"]).exit_code == 0
    refused = CliRunner().invoke(cli, ["emulate", "build/f446re/firmware.elf", "--target", "f446re"])
    message = str(refused.exception)
    assert isinstance(refused.exception, FlynetError) and "\n" not in message
    assert "is a real-board build for NUCLEO-F446RE" in message
    build, emulate = re.findall(r"`flynet-tiny ([^`]+)`", message)
    assert build == "build --target f446re --model export --opt size --emulation --out build/f446re-emu"
    assert CliRunner().invoke(cli, shlex.split(build)).exit_code == 0
    result = CliRunner().invoke(cli, shlex.split(emulate))
    assert result.exit_code == 0, result.output


def test_emulating_an_exports_board_firmware_points_at_its_bench_build(tmp_path, monkeypatch):
    from flynet_tiny.build.options import BUILD_RECORD
    from flynet_tiny.sim.elf_check import emulation_commands

    monkeypatch.chdir(tmp_path)
    export = tmp_path / "export"
    (export / "firmware-f746zg").mkdir(parents=True)
    (export / "firmware-f746zg" / BUILD_RECORD).write_text('{"model": "../model_int8.tflite", "opt": "size"}')
    hint = emulation_commands(export / "firmware-f746zg" / "firmware.elf", load_target("f746zg"))
    assert hint.startswith("build the emulation one with `flynet-tiny build --target f746zg --model export --opt size --emulation")
    (export / "bench-f746zg" / "firmware").mkdir(parents=True)
    (export / "bench-f746zg" / "firmware" / "firmware.elf").write_bytes(b"\x7fELF")
    hint = emulation_commands(export / "firmware-f746zg" / "firmware.elf", load_target("f746zg"))
    assert hint == "emulate its bench build, `flynet-tiny emulate export/bench-f746zg/firmware/firmware.elf --target f746zg`"
