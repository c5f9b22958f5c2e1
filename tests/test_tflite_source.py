"""`--tflite` as a first-class source: a model flynet-tiny did not convert is verified against TFLite Micro
(LiteRT reported, never fatal; a model LiteRT refuses is exported with that noted), on every input, and
exported, built and benched with inputs in its own types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flynet_tiny.tflite.interpreters import random_samples
from flynet_tiny.tflite import TFLiteBuilder
from flynet_tiny.tflite.interpreters import run_tflm_batch
from flynet_tiny.verify.agreement import LITERT, TFLM, verify_tflite

CORPUS = Path(__file__).parent / "corpus"


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "flynet_tiny.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)


def conv_without_bias() -> bytes:
    """uint8 [1,8,8,1] -> QUANTIZE -> CONV_2D with no bias operand (TFLM runs it; LiteRT's reference
    kernels refuse it at load: 'Tensor at index 2 was optional but was expected')."""
    rng = np.random.default_rng(0)
    b = TFLiteBuilder("no bias")
    x = b.add_tensor("image", [1, 8, 8, 1], "uint8", scale=1 / 255, zero_point=0)
    q = b.add_tensor("image_int8", [1, 8, 8, 1], "int8", scale=1 / 255, zero_point=-128)
    w = b.add_tensor("w", [4, 3, 3, 1], "int8", data=rng.integers(-127, 128, (4, 3, 3, 1)), scale=[0.01] * 4,
                     zero_point=[0] * 4)
    y = b.add_tensor("y", [1, 8, 8, 4], "int8", scale=0.02, zero_point=-3)
    b.add_operator("QUANTIZE", [x], [q])
    b.add_operator("CONV_2D", [q, w, -1], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    b.set_io([x], [y])
    return b.build()


def test_verify_feeds_every_input_and_compares_every_output():
    model = (CORPUS / "two_inputs_two_outputs_int8.tflite").read_bytes()
    samples = random_samples(model, 6, seed=1)
    report = verify_tflite(model, samples, measure_arena=False)
    tflm = run_tflm_batch(model, samples)
    for k in range(2):
        assert np.array_equal(report.outputs[TFLM][k], np.concatenate([outs[k] for outs in tflm]).astype(np.int64))
    assert [p.output for p in report.pairs] == ["StatefulPartitionedCall_1:1", "StatefulPartitionedCall_1:0"]
    assert all(p.max_int8_diff == 0 and p.top1_agreement == 1.0 for p in report.pairs)
    assert report.passed


def test_litert_disagreement_is_reported_not_fatal():
    """TFLM and LiteRT's reference kernels differ by 3 steps on this corpus model: reported, TFLM is the reference."""
    model = (CORPUS / "activations_int8.tflite").read_bytes()
    report = verify_tflite(model, random_samples(model, 8), measure_arena=False)
    (pair,) = report.pairs
    assert (pair.a, pair.b, pair.max_int8_diff) == (TFLM, LITERT, 3)
    assert report.passed and not report.failures
    assert "reported" in report.table() and report.reference.startswith(TFLM)


def test_a_model_litert_refuses_is_verified_by_tflm_alone():
    model = conv_without_bias()
    report = verify_tflite(model, random_samples(model, 3), measure_arena=False)
    assert report.passed and report.pairs == [] and set(report.outputs) == {TFLM}
    (note,) = report.notes
    assert note.startswith(f"{LITERT} refused the model (") and "TFLM alone checked it" in note


def test_export_of_a_model_litert_refuses_notes_it(tmp_path):
    (tmp_path / "nobias.tflite").write_bytes(conv_without_bias())
    result = run_cli("export", "--tflite", "nobias.tflite", "--out", "out", "--verify-samples", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verification"]["passed"] and report["verification"]["notes"][0].startswith(f"{LITERT} refused")
    assert "Note: litert-ref refused the model" in (tmp_path / "out" / "report.md").read_text()


def test_export_bench_of_a_two_input_uint8_float_model(tmp_path):
    """The corpus's two-input two-output u8f32 model through export --tflite --target --bench: verified on
    random samples of its own types, built, and bit-exact in QEMU."""
    result = run_cli("export", "--tflite", CORPUS / "two_inputs_two_outputs_u8f32.tflite", "--target", "f446re",
                     "--bench", "--bench-inputs", "3", "--verify-samples", "5", "--out", "out", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    verification = report["verification"]
    assert verification["reference"].startswith(TFLM) and verification["samples"] == 5
    assert len(verification["pairs"]) == 2
    assert report["bench"]["checks"]["tflm_bit_exact"] and report["bench"]["checks"]["host_bit_exact"]
    assert report["bench"]["inputs"] == "the first 3 of 5 random samples (seed 0, over each input's range)"
    header = (tmp_path / "out" / "firmware-f446re" / "model" / "model.h").read_text()
    assert "#define FLYNET_INPUT0_TYPE uint8_t" in header and "#define FLYNET_OUTPUT1_TYPE float" in header


@pytest.fixture()
def image_tree(tmp_path) -> Path:
    rng = np.random.default_rng(2)
    for split in ("train", "test"):
        for c in range(2):
            folder = tmp_path / "images" / split / f"c{c}"
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    return tmp_path / "images"


def test_verify_command_on_a_tflite_export_uses_tflm_as_reference(tmp_path, image_tree):
    (tmp_path / "nobias.tflite").write_bytes(conv_without_bias())
    assert run_cli("export", "--tflite", "nobias.tflite", "--out", "out", "--no-verify", cwd=tmp_path).returncode == 0
    result = run_cli("verify", "out", "--data", image_tree, "--samples", "4", "--mean", "127.5", "--std", "127.5",
                     "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["samples"] == 4 and report["reference"].startswith(TFLM) and report["passed"]
    bad = run_cli("verify", "out", "--data", image_tree, "--samples", "4", "--mean", "1,2", "--std", "1,2", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--mean has 2 values" in bad.stderr
