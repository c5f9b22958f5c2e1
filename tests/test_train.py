"""The training loop: exact resume, determinism, outputs, the paper's defaults."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import tiny_model  # noqa: E402

from flynet_tiny.train import TrainConfig, load_checkpoint, synthetic_dataset, train  # noqa: E402
from flynet_tiny.train.trainer import (LARGE_MODEL_PARAMS, QUANT_NOISE_LEVELS, cosine_lr,  # noqa: E402
                                       default_quant_noise_levels, default_weight_decay, temperature_at)

TRAIN = synthetic_dataset(192, input_size=12, in_channels=1, num_classes=4, seed=1)
TEST = synthetic_dataset(64, input_size=12, in_channels=1, num_classes=4, seed=1, split="test")
# One thread: tiny models on a shared 2-core machine run 10x slower with two contending threads.
CONFIG = dict(epochs=3, batch_size=32, lr=0.1, seed=7, threads=1)


def run(out, model=None, **kwargs):
    model = model or tiny_model()
    metrics = train(model, TRAIN, TEST, TrainConfig(**{**CONFIG, **kwargs.pop("config", {})}), out,
                    model_config={"name": "tiny"}, progress=False, **kwargs)
    return model, metrics


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_bit_exactly(tmp_path):
    full, _ = run(tmp_path / "full")
    run(tmp_path / "split", stop_after_epoch=1)
    assert load_checkpoint(tmp_path / "split" / "checkpoint.pt")["epoch"] == 1
    resumed, metrics = run(tmp_path / "split", resume=True)
    assert same_state(full.state_dict(), resumed.state_dict())
    full_ckpt = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    split_ckpt = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert same_state(full_ckpt["state_dict"], split_ckpt["state_dict"])
    assert [e["test_top1"] for e in full_ckpt["metrics"]["epochs"]] == [e["test_top1"] for e in metrics["epochs"]]
    assert torch.equal(full_ckpt["optimizer"]["state"][0]["momentum_buffer"], split_ckpt["optimizer"]["state"][0]["momentum_buffer"])


def test_outputs_and_learning(tmp_path):
    model, metrics = run(tmp_path, command="flynet-tiny train tiny --data x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "checkpoint.pt", "curves.png", "metrics.json"]
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert [e["epoch"] for e in on_disk["epochs"]] == [1, 2, 3]
    assert on_disk["final_test_top1"] == on_disk["epochs"][-1]["test_top1"]
    assert on_disk["best_test_top1"] == max(e["test_top1"] for e in on_disk["epochs"])
    assert all(e["images_per_second"] > 0 for e in on_disk["epochs"])
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["command"] == "flynet-tiny train tiny --data x"
    assert ckpt["data_info"]["mean"] == [128.0] and ckpt["data_info"]["input_size"] == 12
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["metrics"]["epochs"][-1]["test_top1"] == on_disk["best_test_top1"]
    # The synthetic classes are separable: three epochs must beat chance (0.25) by far.
    assert on_disk["final_test_top1"] >= 0.9


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    a, _ = run(tmp_path / "a", config={"epochs": 1})
    b, _ = run(tmp_path / "b", config={"epochs": 1})
    c, _ = run(tmp_path / "c", config={"epochs": 1, "seed": 8})
    assert same_state(a.state_dict(), b.state_dict())
    assert not same_state(a.state_dict(), c.state_dict())


def test_temperature_anneals_from_10_to_1_and_small_models_get_small_decay(tmp_path):
    model, metrics = run(tmp_path)
    assert model.temperatures == [10.0, 5.5, 1.0]
    assert [e["temperature"] for e in metrics["epochs"]] == [10.0, 5.5, 1.0]
    assert metrics["weight_decay"] == 1e-5


def test_paper_rules_by_parameter_count():
    assert default_weight_decay(LARGE_MODEL_PARAMS - 1) == 1e-5
    assert default_weight_decay(LARGE_MODEL_PARAMS) == 4e-5
    assert default_quant_noise_levels(LARGE_MODEL_PARAMS - 1) == 0
    assert default_quant_noise_levels(LARGE_MODEL_PARAMS) == QUANT_NOISE_LEVELS == 8
    assert cosine_lr(0.4, 0, 100) == 0.4
    assert abs(cosine_lr(0.4, 50, 100) - 0.2) < 1e-12 and abs(cosine_lr(0.4, 100, 100)) < 1e-12
    assert temperature_at(TrainConfig(epochs=1), 0) == 1.0


class _HeadWithBatchNorm1d(torch.nn.Module):
    """Flatten -> Linear -> BatchNorm1d, like MicroNet's head: training on one image raises in torch."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(144, 4)
        self.bn = torch.nn.BatchNorm1d(4)

    def forward(self, x):
        return self.bn(self.fc(x.flatten(1)))


def test_last_training_batch_of_one_image_is_dropped(tmp_path):
    train_set = synthetic_dataset(33, input_size=12, in_channels=1, num_classes=4, seed=2)
    torch.manual_seed(0)
    with torch.no_grad():  # the failure the trainer avoids: BatchNorm1d on a batch of one
        try:
            _HeadWithBatchNorm1d().train()(train_set.images[:1].float())
            raise AssertionError("BatchNorm1d accepted a training batch of one")
        except ValueError:
            pass
    metrics = train(_HeadWithBatchNorm1d(), train_set, TEST, TrainConfig(**{**CONFIG, "epochs": 2}), tmp_path,
                    model_config={"name": "bn1d"}, progress=False)
    assert metrics["completed_epochs"] == 2
    # 32 of the 33 images per epoch: the loss and accuracy averages count only the trained ones.
    seconds = [e["seconds"] for e in metrics["epochs"]]
    assert [round(e["images_per_second"] * s) for e, s in zip(metrics["epochs"], seconds)] == [32, 32]


def test_trained_images_keeps_batches_of_two_or_more():
    from flynet_tiny.train.trainer import trained_images

    assert [trained_images(n, 32) for n in (1, 2, 31, 32, 33, 34, 65)] == [1, 2, 31, 32, 32, 34, 64]
    assert trained_images(5, 1) == 5  # batch size 1 is the user's choice: nothing to drop
