"""`flynet-tiny train` end to end on a real FlyNet: outputs, QAT, and one-line errors that leave nothing behind."""

import gzip
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import write_idx_dataset  # noqa: E402

from flynet_tiny.cli import main  # noqa: E402
from flynet_tiny.errors import FlynetError  # noqa: E402
from flynet_tiny.models import build_model  # noqa: E402
from flynet_tiny.train import load_dataset, model_from_checkpoint  # noqa: E402
from flynet_tiny.train.checkpoint import save_checkpoint  # noqa: E402
from flynet_tiny.train.trainer import evaluate  # noqa: E402

MODEL = "flynet-h3-0.25"
FAST = ["--epochs", "1", "--batch-size", "32", "--workers", "1"]


def run_cli(args, capsys) -> tuple[int, str, str]:
    old_argv = sys.argv
    sys.argv = ["flynet-tiny", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old_argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def assert_input_error(args, capsys, expected: str, out_dir: Path) -> None:
    """Exit 2 with a one-line `error:` naming `expected`, and `out_dir` exactly as it was before."""
    before = snapshot(out_dir)
    code, _, err = run_cli(args, capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: ") and expected in last, err
    assert snapshot(out_dir) == before


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = write_idx_dataset(root / "data")
    out = root / "run"
    args = ["train", MODEL, "--data", data, "--out", out, "--json", *FAST]
    old_argv = sys.argv
    sys.argv = ["flynet-tiny", *map(str, args)]
    try:
        main()
    finally:
        sys.argv = old_argv
    return data, out


def test_train_writes_outputs_and_the_checkpoint_rebuilds(trained, capsys):
    data, out = trained
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "checkpoint.pt", "curves.png", "metrics.json"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["completed_epochs"] == 1 and metrics["train_images"] == 64 and metrics["test_images"] == 32
    model, checkpoint = model_from_checkpoint(out / "checkpoint.pt")
    assert checkpoint["command"].startswith(f"flynet-tiny train {MODEL} --data {data}")
    assert checkpoint["model_config"] == build_model(MODEL, 4, 32, 1).config.to_dict()
    assert checkpoint["data_info"]["input_size"] == 32 and checkpoint["data_info"]["num_classes"] == 4
    test_set = load_dataset(data, "test", input_size=32, in_channels=1)
    _, top1 = evaluate(model, test_set)
    assert top1 == metrics["final_test_top1"]


def test_qat_from_checkpoint_writes_a_quantized_model(trained, tmp_path, capsys):
    from flynet_tiny.quant import load_quantized

    data, out = trained
    code, stdout, err = run_cli(["train", MODEL, "--data", data, "--out", tmp_path / "qat", "--qat", "--from",
                                 out / "checkpoint.pt", "--json", *FAST, "--epochs", "2"], capsys)
    assert code == 0, err
    result = json.loads(stdout)
    assert result["completed_epochs"] == 2 and result["config"]["lr"] == 0.005
    # QAT keeps the temperature the float model ended at (its traced graph cannot be re-annealed).
    float_temperature = torch.load(out / "checkpoint.pt", weights_only=True)["temperature"]
    assert [e["temperature"] for e in result["epochs"]] == [float_temperature] * 2
    qmodel, info = load_quantized(tmp_path / "qat" / "quantized.pt")
    assert info["qat"] is True and info["data_info"]["input_size"] == 32
    assert qmodel(torch.zeros(1, 1, 32, 32)).shape == (1, 4)
    with pytest.raises(FlynetError, match="is a QAT training checkpoint"):
        model_from_checkpoint(tmp_path / "qat" / "checkpoint.pt")


def test_bad_data_inputs(tmp_path, capsys):
    out = tmp_path / "out"
    assert_input_error(["train", MODEL, "--data", tmp_path / "missing", "--out", out, *FAST], capsys, "does not exist", out)
    bad = write_idx_dataset(tmp_path / "bad")
    # An image header (magic 0x803) in the label file.
    (bad / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x03" + bytes(20)))
    assert_input_error(["train", MODEL, "--data", bad, "--out", out, *FAST], capsys, "corrupt IDX header", out)
    high = write_idx_dataset(tmp_path / "high", max_label=9)
    assert_input_error(["train", MODEL, "--data", high, "--out", out, "--classes", "4", *FAST], capsys,
                       "go up to 9 but the model has 4 classes", out)
    (tmp_path / "folders" / "cat").mkdir(parents=True)
    (tmp_path / "folders" / "dog").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "folders" / "cat" / "a.png")
    assert_input_error(["train", MODEL, "--data", tmp_path / "folders", "--out", out, *FAST], capsys,
                       "has no images", out)


def test_bad_model_and_run_inputs(trained, tmp_path, capsys):
    data, run = trained
    out = tmp_path / "out"
    assert_input_error(["train", "resnet-50", "--data", data, "--out", out, *FAST], capsys, "unknown model", out)
    assert_input_error(["train", MODEL, "--data", data, "--out", out, "--qat", *FAST], capsys, "--qat needs --from", out)
    assert_input_error(["train", MODEL, "--data", data, "--out", out, "--resume", *FAST], capsys, "nothing to resume", out)
    assert_input_error(["train", MODEL, "--data", data, "--out", run, *FAST], capsys, "already holds a training run", run)
    other = build_model("flynet-h1-0.5", 4, 32, 1)
    save_checkpoint(out / "checkpoint.pt", {"model_config": other.config.to_dict(), "state_dict": other.state_dict()})
    assert_input_error(["train", MODEL, "--data", data, "--out", out, "--resume", *FAST], capsys,
                       "is for another architecture (name=flynet-h1-0.5", out)
    assert_input_error(["train", MODEL, "--data", data, "--out", tmp_path / "ft", "--from", out / "checkpoint.pt", *FAST],
                       capsys, "is for another architecture", tmp_path / "ft")


def test_disk_full_during_save_leaves_no_checkpoint(trained, tmp_path):
    data, _ = trained
    out = tmp_path / "full"
    limit = 200 * 1024  # below the ~1 MB checkpoint: the kernel refuses the bytes past it (EFBIG)

    def cap_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "flynet_tiny.cli", "train", MODEL, "--data", str(data), "--out",
                             str(out), *FAST], capture_output=True, text=True, preexec_fn=cap_file_size, timeout=300)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and last.startswith(f"error: disk full while saving {out / 'checkpoint.pt'}"), result.stderr
    assert not out.exists() or list(out.iterdir()) == []
