"""`flynet-tiny export` end to end, and its bad-input paths: one line, non-zero exit, nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from cli_helpers import CliResult, run_in
from flynet_tiny.convert.to_tflite import convert_qdq_onnx
from flynet_tiny.errors import FlynetError
from flynet_tiny.resources import BUNDLED_SAMPLES
from flynet_tiny.tflite import TFLiteBuilder, read_tflite

# The bundled Fashion-MNIST samples: a real IDX folder (256 train + 256 test images).
FASHION = BUNDLED_SAMPLES


def run_cli(*args: str, cwd: Path) -> CliResult:
    """The console script's entry point, in this process (no interpreter start-up per call)."""
    return run_in(args, cwd)


def error_lines(result: CliResult) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_one_line_error(result, exit_code: int = 2) -> str:
    assert result.returncode == exit_code, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One real export: FlyNet-h3 0.25x, random init, calibrated on the bundled Fashion-MNIST samples."""
    work = tmp_path_factory.mktemp("export")
    result = run_cli("export", "--model", "flynet-h3-0.25", "--calib-data", str(FASHION), "--out", "out",
                     "--verify-samples", "10", "--calib-samples", "32", "--min-top1", "0", "--min-cosine", "0", "--json", cwd=work)
    assert result.returncode == 0, result.stderr[-2000:]
    return work / "out", json.loads(result.stdout)


def test_export_writes_every_output(exported):
    out, report = exported
    names = {p.name for p in out.iterdir()}
    assert names == {"model.onnx", "model_qdq.onnx", "model_int8.tflite", "model_data.c", "model_data.h",
                     "report.json", "report.md"}
    assert json.loads((out / "report.json").read_text()) == report
    assert not list(out.parent.glob(".out.*"))  # no staging folder left behind


def test_exported_model_is_builtin_int8_without_transpose(exported):
    out, report = exported
    data = (out / "model_int8.tflite").read_bytes()
    graph = read_tflite(data)
    graph.require_int8()
    ops = graph.op_counts()
    assert "TRANSPOSE" not in ops and "CUSTOM" not in ops
    assert {"DEPTHWISE_CONV_2D", "REDUCE_MAX", "SQUARED_DIFFERENCE", "SOFTMAX", "CONCATENATION"} <= set(ops)
    for tensor in graph.tensors:
        if tensor.dtype == "int8":
            assert tensor.scale is not None, tensor.name
    assert report["ops"] == ops and report["tflite_bytes"] == len(data)


def test_file_size_is_weights_biases_and_bounded_overhead(exported):
    """No duplicated buffers: beyond the int8 weights and int32 biases the file holds only the
    quantization arrays (4-byte scale + 8-byte zero point per channel, as the schema stores them)
    and at most 128 bytes of flatbuffer table per tensor and operator."""
    out, report = exported
    graph = read_tflite((out / "model_int8.tflite").read_bytes())
    payload = report["int8_weight_bytes"] + report["int32_bias_bytes"]
    quant_arrays = sum(12 * t.scale.size for t in graph.tensors if t.scale is not None)
    tables = 128 * (len(graph.tensors) + len(graph.operators))
    assert payload <= report["tflite_bytes"] <= payload + quant_arrays + tables + 8192


def test_tflm_and_litert_reference_agree_within_two_steps(exported):
    _, report = exported
    pairs = {(p["a"], p["b"]): p for p in report["verification"]["pairs"]}
    assert pairs[("tflm", "litert-ref")]["max_int8_diff"] <= 2
    assert report["arena_bytes"]["total"] > 0


def test_c_header_carries_arena_and_ops(exported):
    out, report = exported
    header = (out / "model_data.h").read_text()
    assert f"#define FLYNET_MODEL_ARENA_SIZE {report['arena_bytes']['with_margin']}" in header
    assert f"#define FLYNET_MODEL_OP_COUNT {len(report['ops'])}" in header


def test_tflite_passes_through_validation(exported, tmp_path):
    out, _ = exported
    result = run_cli("export", "--tflite", str(out / "model_int8.tflite"), "--out", "again", "--verify-samples", "4",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again" / "model_int8.tflite").read_bytes() == (out / "model_int8.tflite").read_bytes()


def test_failed_export_keeps_previous_output(exported, tmp_path):
    out, _ = exported
    previous = tmp_path / "prev"
    previous.mkdir()
    (previous / "model_int8.tflite").write_bytes(b"previous good output")
    result = run_cli("export", "--onnx", str(out / "model_qdq.onnx"), "--calib-data", str(FASHION),
                     "--verify-samples", "5", "--min-cosine", "1", "--out", "prev", cwd=tmp_path)
    assert_one_line_error(result, exit_code=1)
    assert [p.name for p in previous.iterdir()] == ["model_int8.tflite"]
    assert (previous / "model_int8.tflite").read_bytes() == b"previous good output"
    assert not list(tmp_path.glob(".prev.*"))


def test_onnx_that_does_not_parse(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage that is not protobuf")
    line = assert_one_line_error(run_cli("export", "--onnx", "bad.onnx", "--out", "o", cwd=tmp_path))
    assert "does not parse as ONNX" in line
    assert not (tmp_path / "o").exists()


def test_missing_checkpoint(tmp_path):
    line = assert_one_line_error(run_cli("export", "--checkpoint", "nope.pt", "--out", "o", cwd=tmp_path))
    assert "nope.pt" in line and not (tmp_path / "o").exists()


def test_checkpoint_of_another_architecture(tmp_path):
    from flynet_tiny.models import build_model
    from flynet_tiny.train.checkpoint import save_checkpoint

    model = build_model("flynet-h2-0.5", num_classes=10, input_size=32, in_channels=1)
    save_checkpoint(tmp_path / "h2.pt", {"model_config": model.config.to_dict(), "state_dict": model.state_dict()})
    line = assert_one_line_error(run_cli("export", "--checkpoint", "h2.pt", "--model", "flynet-h3-0.5",
                                         "--out", "o", cwd=tmp_path))
    assert "another architecture" in line and not (tmp_path / "o").exists()


def test_unknown_target(tmp_path):
    line = assert_one_line_error(run_cli("export", "--model", "flynet-h3-0.5", "--target", "esp32",
                                         "--out", "o", cwd=tmp_path))
    assert "f446re" in line and "f746zg" in line and not (tmp_path / "o").exists()


def test_float_tflite_is_rejected(tmp_path):
    b = TFLiteBuilder()
    x = b.add_tensor("x", [1, 4], "float32")
    y = b.add_tensor("y", [1, 4], "float32")
    b.add_operator("RELU", [x], [y])
    b.set_io([x], [y])
    (tmp_path / "float.tflite").write_bytes(b.build())
    line = assert_one_line_error(run_cli("export", "--tflite", "float.tflite", "--out", "o", cwd=tmp_path))
    assert "int8" in line and not (tmp_path / "o").exists()


def test_every_unsupported_op_is_listed_in_one_error(tmp_path):
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
    zero = helper.make_tensor("z", TensorProto.INT8, [], [0])
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("Tanh", ["xd"], ["t"], name="my_tanh"),
             helper.make_node("Erf", ["t"], ["e"], name="my_erf"),
             helper.make_node("QuantizeLinear", ["e", "s", "z"], ["eq"]),
             helper.make_node("DequantizeLinear", ["eq", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [scale, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(FlynetError) as info:
        convert_qdq_onnx(model)
    message = str(info.value)
    assert "Tanh (my_tanh)" in message and "Erf (my_erf)" in message and "\n" not in message


def test_target_adds_the_board_firmware(exported, tmp_path):
    """--target runs the firmware half into the same folder: generated C, a linked ELF, its regions."""
    out, _ = exported
    result = run_cli("export", "--tflite", str(out / "model_int8.tflite"), "--target", "f446re", "--out", "fw",
                     "--no-verify", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    firmware = report["firmware"]
    assert report["target"] == "f446re" and not firmware["emulation"]
    elf = tmp_path / "fw" / firmware["elf"]
    assert elf.is_file() and elf.read_bytes()[:4] == b"\x7fELF"
    assert (tmp_path / "fw" / "firmware-f446re" / "model" / "model.c").is_file()
    assert set(firmware["regions"]) == {"FLASH", "SRAM"}
    assert all(0 < region["used"] <= region["size"] for region in firmware["regions"].values())
    assert json.loads((tmp_path / "fw" / "report.json").read_text())["firmware"] == firmware


def test_export_counts_every_stage_names_user_paths_and_writes_usual_modes(exported, tmp_path):
    out, _ = exported
    result = run_cli("export", "--tflite", str(out / "model_int8.tflite"), "--target", "f446re", "--out", "fw",
                     "--verify-samples", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    stages = [line.split("]")[0] + "]" for line in result.stderr.splitlines() if line.startswith("[")]
    # Validation runs first without a line of its own (a bad file ends in its one error line): then
    # verify, C arrays, firmware, each counted against the same total.
    assert stages == ["[1/3]", "[2/3]", "[3/3]"]
    assert ".tmp" not in result.stderr and ".fw." not in result.stderr  # no staging folder named
    report = json.loads((tmp_path / "fw" / "report.json").read_text())
    assert len(report["stage_seconds"]) == 4 and any(k.startswith("firmware") for k in report["stage_seconds"])
    assert "firmware:" in (tmp_path / "fw" / "report.md").read_text()
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "fw").stat().st_mode & 0o777 == 0o777 & ~umask
    for name in ("report.json", "model_int8.tflite", "model_data.c", "firmware-f446re/Makefile"):
        assert (tmp_path / "fw" / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_bench_needs_a_target(tmp_path):
    line = assert_one_line_error(run_cli("export", "--model", "flynet-h3-0.5", "--bench", "--out", "o", cwd=tmp_path))
    assert "--target" in line and not (tmp_path / "o").exists()
