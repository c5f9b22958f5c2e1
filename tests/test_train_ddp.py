"""Two CPU processes under torchrun (gloo) must end with identical weights."""

import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).resolve().parent / "train_ddp_worker.py"


def test_two_ranks_end_with_identical_weights(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(WORKER), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(rank0[k], checkpoint["state_dict"][k]) for k in rank0)
    metrics = checkpoint["metrics"]
    assert metrics["world_size"] == 2 and metrics["completed_epochs"] == 2
    assert len(list(tmp_path.glob("*.tmp"))) == 0
