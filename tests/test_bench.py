"""`flynet-tiny bench`: a small model built, run in QEMU on both boards and checked against the host
build and TFLM; tampered firmware caught and its layer named; one-line errors for bad input."""

import io
import json
import math
import re

import numpy as np
import pytest

from cli_helpers import run_cli
from codegen_models import ModelMaker
from flynet_tiny.data.model_inputs import bench_inputs
from flynet_tiny.sim import bench as bench_module
from flynet_tiny.data.datasets import load_dataset
from sample_data import write_idx_folder

SIZE = 12
INPUTS = 2
TAMPERED_LAYER = 1  # the MDW layer, between two convs


def small_model() -> bytes:
    """conv -> MDW (3 heads, fused with its Max-out) -> 1x1 conv, on one-channel 12x12 images.
    The input is quantized like the project's images (scale 1/128, zero point 0): int8 = pixel - 128."""
    m = ModelMaker(5, "bench test model")
    x = m.tensor((1, SIZE, SIZE, 1), 1 / 128, 0, name="input")
    a = m.conv(x, 6, k=3, act="RELU6")
    b = m.mdw_reshape_maxout(a, 3)
    return m.build(x, m.conv(b, 4, k=1))


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    """A small IDX folder of real images (bundled test images 100..107), unlike the bundled default."""
    return write_idx_folder(tmp_path_factory.mktemp("fashion") / "fashion-mnist", start=100, count=8)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench_model") / "model_int8.tflite"
    path.write_bytes(small_model())
    return path


def bench_args(model_file, out, fashion, target="f446re", *extra):
    return ["bench", "--target", target, "--tflite", model_file, "--data", fashion, "--inputs", INPUTS,
            "--out", out, *extra]


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_bench_end_to_end_on_the_emulated_board(tmp_path, capsys, model_file, fashion, target_name):
    out = tmp_path / "out"
    code, stdout, err = run_cli([*bench_args(model_file, out, fashion, target_name), "--runs", 3, "--json"], capsys)
    assert code == 0, err
    report = json.loads(stdout)
    assert report == json.loads((out / "report.json").read_text())
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| total |" in (out / "report.md").read_text()
    assert (report["target"], report["runs"], report["inputs"]) == (target_name, 3, INPUTS)
    assert report["checks"] == {**report["checks"], "host_bit_exact": True, "tflm_bit_exact": True,
                                "counts_identical_across_runs": True}
    assert report["input_source"].startswith(f"{INPUTS} test images from {fashion}, drawn evenly across classes")
    layers = report["layers"]
    assert [l["index"] for l in layers] == list(range(len(layers)))
    assert [l["op"] for l in layers] == ["CONV_2D", "MDW_MAXOUT", "CONV_2D"]
    for layer in layers:
        assert layer["instructions"] > 0 and layer["estimated_cycles"] > 0
        assert layer["instr_per_mac"] == layer["instructions"] / layer["macs"]
    # conv MACs from the reported shapes: output elements x kernel taps x input channels
    conv = layers[0]
    assert conv["macs"] == math.prod(conv["output_shape"]) * 3 * 3 * conv["input_shapes"][0][3]
    # MDW computes all 3 heads before the Max-out
    assert layers[1]["macs"] == math.prod(layers[1]["output_shape"]) * 3 * 3 * 3
    totals = report["totals"]
    assert totals["instructions"] == sum(l["instructions"] for l in layers)
    assert totals["estimated_ms"] == pytest.approx(totals["estimated_cycles"] / report["clock_hz"] * 1e3)
    assert totals["inferences_per_s"] == pytest.approx(1e3 / totals["estimated_ms"])
    assert sum(l["percent"] for l in layers) == pytest.approx(100.0)
    # the class model heads the report; the pipeline model stays beside it
    assert report["latency_model"] == "classes"
    for layer in layers:
        assert layer["estimated_cycles"] == layer["classes_cycles"]
        assert layer["pipeline_cycles"] > sum(layer["pipeline_stalls"].values()) > 0
    assert totals["classes_ms"] == pytest.approx(totals["estimated_ms"])
    assert totals["pipeline_ms"] == pytest.approx(sum(l["pipeline_ms"] for l in layers))
    # the embedded test inputs sit past the board's memory: the board's flash holds only the firmware
    memory = report["memory"]
    assert memory["regions"]["TESTDATA"]["used"] == memory["embedded_input_bytes"] == INPUTS * SIZE * SIZE
    assert memory["flash_bytes"] == memory["regions"]["FLASH"]["used"]


def test_pipeline_model_can_head_the_report(tmp_path, capsys, model_file, fashion):
    code, stdout, err = run_cli([*bench_args(model_file, tmp_path / "out", fashion), "--latency-model", "pipeline",
                                 "--json"],
                                capsys)
    assert code == 0, err
    report = json.loads(stdout)
    assert report["latency_model"] == "pipeline"
    assert report["totals"]["estimated_ms"] == pytest.approx(report["totals"]["pipeline_ms"])
    assert report["totals"]["classes_ms"] > 0
    assert all(l["estimated_cycles"] == l["pipeline_cycles"] for l in report["layers"])


def first_of_each_class(data_path, count: int) -> np.ndarray:
    """The first test image of each of the first `count` classes present, in label order (uint8, N x 1 x SIZE x SIZE)."""
    dataset = load_dataset(data_path, "test", input_size=SIZE, in_channels=1)
    labels = dataset.labels.numpy()
    return dataset.images.numpy()[[int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:count]]]


def test_real_images_are_embedded_as_the_model_quantizes_them(model_file, fashion):
    inputs = bench_inputs(model_file.read_bytes(), 3, fashion)
    expected = first_of_each_class(fashion, 3).astype(np.int16) - 128  # an int8 input: pixel - 128
    assert [[x.shape for x in sample] for sample in inputs.samples] == [[(1, SIZE, SIZE, 1)]] * 3
    assert np.array_equal(np.stack([sample[0][0, :, :, 0] for sample in inputs.samples]), expected[:, 0])


# Where C is inserted into the tampered layer: just before its output checksum (the output
# pointer is group 1), or just inside the layer, after its begin marker.
BEFORE_CHECKSUM = rf"^    FLYNET_CHECKSUM\({TAMPERED_LAYER}, (.*), \d+\);$"
INSIDE_LAYER = rf"^    begin\({TAMPERED_LAYER}\);\n"


def test_without_data_the_bundled_samples_are_used(model_file):
    from flynet_tiny.resources import BUNDLED_SAMPLES

    inputs = bench_inputs(model_file.read_bytes(), 2)
    pixels = first_of_each_class(BUNDLED_SAMPLES, 2)
    assert inputs.source.startswith("2 test images from the bundled Fashion-MNIST samples")
    assert inputs.source.endswith("(no --data given)")
    assert np.array_equal(np.stack([sample[0][0, :, :, 0] for sample in inputs.samples]),
                          pixels[:, 0].astype(np.int16) - 128)


def tamper_generated(monkeypatch, site, statement_for):
    """Make bench generate its C as usual, then insert `statement_for(match)` at `site` in the
    tampered layer. The host build compiles it too unless it is wrapped in #ifdef FN_EMULATION."""
    real = bench_module.generate_model_sources

    def generate(*args, **kwargs):
        generated = real(*args, **kwargs)
        source = generated.out_dir / "model.c"
        text = source.read_text()
        match = re.search(site, text, re.M)
        assert match, "generated C has no such site in the tampered layer"
        at = match.start() if site == BEFORE_CHECKSUM else match.end()
        source.write_text(text[:at] + statement_for(match) + "\n" + text[at:])
        return generated

    monkeypatch.setattr(bench_module, "generate_model_sources", generate)


def flip_one_byte(match) -> str:
    return f"    ((int8_t *)({match[1]}))[5] ^= 0x55;"


def test_firmware_differing_from_the_host_build_names_the_layer(tmp_path, capsys, monkeypatch, model_file, fashion):
    tamper_generated(monkeypatch, BEFORE_CHECKSUM, lambda m: f"#ifdef FN_EMULATION\n{flip_one_byte(m)}\n#endif")
    out = tmp_path / "out"
    code, stdout, err = run_cli(bench_args(model_file, out, fashion), capsys)
    assert code == 1
    assert re.search(rf"input 0: layer {TAMPERED_LAYER} \(\w+\) output differs between the emulated firmware and "
                     r"the host build \(checksum [0-9a-f]{8} vs [0-9a-f]{8}\)", err), err
    assert not (out / "report.json").exists()


def test_output_differing_from_tflm_names_the_first_layer_off_the_reference(tmp_path, capsys, monkeypatch, model_file, fashion):
    tamper_generated(monkeypatch, BEFORE_CHECKSUM, flip_one_byte)  # host and firmware agree, both wrong
    code, stdout, err = run_cli(bench_args(model_file, tmp_path / "out", fashion), capsys)
    assert code == 1
    assert re.search(rf"input 0: output differs from TFLite Micro \(first differing layer vs the reference kernels: "
                     rf"layer {TAMPERED_LAYER} \(\w+\)\)", err), err


def test_faulting_firmware_names_the_layer(tmp_path, capsys, monkeypatch, model_file, fashion):
    tamper_generated(monkeypatch, INSIDE_LAYER, lambda m: "#ifdef FN_EMULATION\n        __builtin_trap();\n#endif")
    code, stdout, err = run_cli(bench_args(model_file, tmp_path / "out", fashion), capsys)
    assert code == 1
    assert re.search(rf"error: firmware hardfault in layer {TAMPERED_LAYER} \(\w+\): HardFault ", err), err


def test_hung_firmware_is_killed_at_the_timeout(tmp_path, capsys, monkeypatch, model_file, fashion):
    tamper_generated(monkeypatch, INSIDE_LAYER,
                     lambda m: "#ifdef FN_EMULATION\n        for (;;) { __asm__ volatile(\"\"); }\n#endif")
    code, stdout, err = run_cli([*bench_args(model_file, tmp_path / "out", fashion), "--timeout", 2], capsys)
    assert code == 1
    assert re.search(rf"error: firmware hung in layer {TAMPERED_LAYER} \(\w+\): killed at the timeout", err), err


def test_counts_differing_between_runs_are_refused(tmp_path, model_file):
    from dataclasses import replace

    from flynet_tiny.errors import CheckFailed
    from flynet_tiny.sim.qemu import LayerRun, RunResult

    def run(instructions):
        layer = LayerRun(0, 0, "conv_1", instructions, {"alu": instructions}, 0)
        return RunResult("", "", 0, False, layers=[layer], total_instructions=10, total_classes={"alu": 10})

    bench_module.require_identical_counts([run(5), run(5)])
    with pytest.raises(CheckFailed, match=r"run 2 differ from run 1 \(first in conv_1\)"):
        bench_module.require_identical_counts([run(5), replace(run(5), layers=run(6).layers)])


@pytest.mark.parametrize("args, message", [
    (["--target", "f999"], "unknown target 'f999'"),
    (["--target", "f446re", "--inputs", 0], "--inputs must be at least 1"),
    (["--target", "f446re", "--runs", 0], "--runs must be at least 1"),
    (["--target", "f446re", "--data", "/nonexistent/images"], "--data /nonexistent/images not found"),
    (["--target", "f446re", "--model", "somewhere"], "--model and --tflite exclude each other"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, model_file, args, message):
    out = tmp_path / "out"
    code, stdout, err = run_cli(["bench", "--tflite", model_file, "--out", out, *args], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_missing_model_is_named(tmp_path, capsys):
    code, _, err = run_cli(["bench", "--target", "f746zg", "--model", tmp_path / "nowhere"], capsys)
    assert code == 2 and "pass an export folder or a .tflite file" in err


def test_missing_qemu_names_the_debian_package(tmp_path, capsys, monkeypatch, model_file):
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "out"
    code, _, err = run_cli(["bench", "--target", "f446re", "--tflite", model_file, "--out", out], capsys)
    assert code == 2 and "apt-get install qemu-system-arm" in err, err
    assert not out.exists()


def synthetic_result(n_layers: int):
    """A bench result's plotted fields for `n_layers` layers of four op kinds, times 1..n ms."""
    from types import SimpleNamespace

    from flynet_tiny.targets import load_target

    ops = ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "ECA"]
    layers = [{"index": i, "op": ops[i % 4], "name": f"layer_{i}", "instructions": 1000, "estimated_ms": float(i + 1)}
              for i in range(n_layers)]
    return SimpleNamespace(layers=layers, totals={"estimated_ms": sum(l["estimated_ms"] for l in layers)},
                           model="synthetic", target=load_target("f746zg"))


def test_latency_plot_keeps_its_size_and_sums_for_a_hundred_layers():
    from PIL import Image

    from flynet_tiny.sim.bench_report import TOP_LAYERS, _layer_bars, _op_bars, latency_png

    result = synthetic_result(116)
    bars = _layer_bars(result.layers)
    assert len(bars) == TOP_LAYERS + 1 and bars[-1][0] == f"the other {116 - TOP_LAYERS} layers"
    assert [ms for _, ms in bars[:3]] == [116.0, 115.0, 114.0]  # slowest first
    assert sum(ms for _, ms in bars) == pytest.approx(result.totals["estimated_ms"])
    ops = _op_bars(result.layers)
    assert [name for name, _ in ops] == ["eca (29 layers)", "add (29 layers)", "depthwise_conv_2d (29 layers)",
                                         "conv_2d (29 layers)"]
    assert sum(ms for _, ms in ops) == pytest.approx(result.totals["estimated_ms"])
    width, height = Image.open(io.BytesIO(latency_png(result))).size
    assert width == 1500 and height <= 1000  # was 900 x 3340 for 116 bars
    few = synthetic_result(3)
    assert [name for name, _ in _layer_bars(few.layers)] == [f"#{i} {op}  layer_{i}" for i, op in
                                                             enumerate(["conv_2d", "depthwise_conv_2d", "add"])]
