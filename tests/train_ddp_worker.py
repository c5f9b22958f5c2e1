"""Run by tests/test_train_ddp.py under torchrun: trains a tiny model, then saves this rank's weights."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import tiny_model  # noqa: E402

from flynet_tiny.train import TrainConfig, synthetic_dataset, train  # noqa: E402

out = Path(sys.argv[1])
train_set = synthetic_dataset(96, input_size=8, in_channels=1, num_classes=3, seed=1)
test_set = synthetic_dataset(30, input_size=8, in_channels=1, num_classes=3, seed=1, split="test")
model = tiny_model(in_channels=1, num_classes=3)
train(model, train_set, test_set, TrainConfig(epochs=2, batch_size=16, lr=0.1, threads=1), out,
      model_config={"name": "tiny"}, progress=False)
rank = int(__import__("os").environ["RANK"])
torch.save(model.state_dict(), out / f"rank{rank}.pt")
