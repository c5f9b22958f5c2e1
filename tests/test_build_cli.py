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
