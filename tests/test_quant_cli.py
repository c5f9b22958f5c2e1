"""The quantize and evaluate commands on a small class-folder copy of real Fashion-MNIST images."""

import json

import click
import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from PIL import Image

from flynet_tiny.cli import cli
from flynet_tiny.models import build_model
from flynet_tiny.quant import load_quantized
from flynet_tiny.quant.evaluate import quantize_file
from flynet_tiny.train import load_dataset, save_checkpoint
from quant_models import randomize_batchnorm
from sample_data import fashion_mnist


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A 4-class train/test image tree (16 + 8 bundled images per class) and an untrained FlyNet checkpoint."""
    root = tmp_path_factory.mktemp("quant_cli")
    for split, count in (("train", 16), ("test", 8)):
        source = fashion_mnist(split, 28)
        for label in range(4):
            folder = root / "data" / split / f"class{label}"
            folder.mkdir(parents=True)
            picks = np.flatnonzero(source.labels.numpy() == label)[:count]
            for i in picks:
                Image.fromarray(source.images[i, 0].numpy()).save(folder / f"{i}.png")
    data = root / "data"
    info = load_dataset(data, "train", input_size=32, in_channels=1).info
    model = randomize_batchnorm(build_model("flynet-h3-0.25", num_classes=4, input_size=32, in_channels=1))
    checkpoint = root / "float.pt"
    save_checkpoint(checkpoint, {"model_config": model.config.to_dict(), "state_dict": model.state_dict(),
                                 "data_info": info.to_dict()})
    return root, data, checkpoint


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], standalone_mode=False, catch_exceptions=True)


def test_quantize_writes_the_model_and_qdq_onnx(workspace):
    root, data, checkpoint = workspace
    out, onnx_path = root / "model.int8.pt", root / "model_qdq.onnx"
    result = invoke("quantize", checkpoint, "--data", data, "--calib-samples", 48, "--method", "percentile",
                    "--out", out, "--onnx", onnx_path, "--json")
    assert result.exception is None, result.output
    report = json.loads(result.output)
    assert report["calib_samples"] == 48 and report["method"] == "percentile"
    qmodel, info = load_quantized(out)
    assert info["data_info"]["num_classes"] == 4 and qmodel.method == "percentile"
    assert report["activation_tensors"] == len(list(qmodel.activation_quantizers()))
    onnx.checker.check_model(onnx.load(str(onnx_path)), full_check=True)


def test_evaluate_reports_fp32_and_int8_side_by_side(workspace):
    root, data, checkpoint = workspace
    as_json = invoke("evaluate", checkpoint, "--data", data, "--calib-samples", 32, "--json")
    assert as_json.exception is None, as_json.output
    report = json.loads(as_json.output)
    assert report["samples"] == 32 and report["split"] == "test"
    for key in ("fp32_top1", "int8_top1", "int8_integer_top1"):
        assert report[key] * 32 == round(report[key] * 32)  # a count of correct images out of 32
    assert report["int8_minus_fp32"] == pytest.approx(report["int8_top1"] - report["fp32_top1"])


def test_evaluate_a_quantized_file_prints_a_table(workspace):
    root, data, checkpoint = workspace
    quantized = root / "for_table.int8.pt"
    quantize_file(checkpoint, data, quantized, calib_samples=32, progress=False)
    table = invoke("evaluate", quantized, "--data", data)
    assert table.exception is None, table.output
    header, rule, row = table.stdout.strip().splitlines()  # the progress bar is on stderr
    assert header.split()[:4] == ["model", "split", "images", "fp32"] and "int8 integer top-1" in header
    assert row.split()[1:3] == ["test", "32"]


def test_bad_inputs_are_one_line_errors(workspace, tmp_path):
    root, data, checkpoint = workspace
    from flynet_tiny.errors import FlynetError

    missing = invoke("quantize", tmp_path / "nope.pt", "--data", data, "--out", tmp_path / "x.pt")
    assert isinstance(missing.exception, FlynetError) and "does not exist" in str(missing.exception)
    assert not (tmp_path / "x.pt").exists()
    zero = invoke("quantize", checkpoint, "--data", data, "--calib-samples", 0, "--out", tmp_path / "y.pt")
    assert isinstance(zero.exception, click.BadParameter) and "at least 1" in str(zero.exception)
    assert not (tmp_path / "y.pt").exists()
    bad_method = invoke("quantize", checkpoint, "--data", data, "--method", "kl")
    assert bad_method.exception is not None and "kl" in str(bad_method.exception)
