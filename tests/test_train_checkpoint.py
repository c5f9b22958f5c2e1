"""The checkpoint format: round trip, one-line errors, and no truncated file on a full disk."""

import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import tiny_model  # noqa: E402

from flynet_tiny.errors import FlynetError  # noqa: E402
from flynet_tiny.train.checkpoint import load_checkpoint, load_state_into, save_checkpoint  # noqa: E402

CONFIG = {"name": "tiny", "num_classes": 4, "input_size": 12, "in_channels": 1}


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(FlynetError) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_round_trip_and_architecture_check(tmp_path):
    model = tiny_model()
    save_checkpoint(tmp_path / "c.pt", {"model_config": CONFIG, "state_dict": model.state_dict(), "epoch": 3})
    ckpt = load_checkpoint(tmp_path / "c.pt", expect_config=dict(CONFIG))
    assert ckpt["epoch"] == 3 and ckpt["format"] == "flynet-tiny-checkpoint/1"
    other = tiny_model(seed=1)
    load_state_into(other, ckpt, tmp_path / "c.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    message = one_line_error(load_checkpoint, tmp_path / "c.pt", expect_config={**CONFIG, "num_classes": 10})
    assert "is for another architecture (name=tiny, num_classes=4" in message and "not name=tiny, num_classes=10" in message
    wider = tiny_model(num_classes=7)
    assert "does not match the model" in one_line_error(load_state_into, wider, ckpt, tmp_path / "c.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_missing_corrupt_and_foreign_files(tmp_path):
    assert "does not exist" in one_line_error(load_checkpoint, tmp_path / "none.pt")
    save_checkpoint(tmp_path / "c.pt", {"state_dict": tiny_model().state_dict()})
    raw = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    assert "is corrupt or not a flynet-tiny checkpoint" in one_line_error(load_checkpoint, tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("hello")
    assert "is corrupt or not a flynet-tiny checkpoint" in one_line_error(load_checkpoint, tmp_path / "text.pt")
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    assert "is not a flynet-tiny checkpoint" in one_line_error(load_checkpoint, tmp_path / "foreign.pt")


SAVE_UNDER_LIMIT = """
import sys, torch
from flynet_tiny.errors import FlynetError
from flynet_tiny.train.checkpoint import save_checkpoint
try:
    save_checkpoint(sys.argv[1], {"state_dict": {"w": torch.ones(200_000)}})
except FlynetError as exc:
    print(exc)
    sys.exit(exc.exit_code)
"""


def test_disk_full_leaves_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"state_dict": {"w": torch.zeros(10)}, "epoch": 1})
    before = path.read_bytes()
    limit = 256 * 1024  # a real write failure: the kernel refuses bytes past RLIMIT_FSIZE (EFBIG)

    def cap_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([sys.executable, "-c", SAVE_UNDER_LIMIT, str(path)], capture_output=True, text=True,
                            preexec_fn=cap_file_size, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout.startswith(f"disk full while saving {path}") and result.stdout.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert path.read_bytes() == before and load_checkpoint(path)["epoch"] == 1
