"""The profiler counts exactly, and the FlyNet, MobileNetV3 and MicroNet tables match their papers."""

import json

import pytest
from click.testing import CliRunner
from torch import nn

from flynet_tiny.cli import cli
from flynet_tiny.models import build_model, list_models
from flynet_tiny.models.paper import PAPER_COUNTS, UNMATCHED
from flynet_tiny.models.profiler import profile_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.mark.parametrize("name", list_models())
def test_totals_equal_parameter_counts(name):
    model = build_model(name, num_classes=10, input_size=32, in_channels=1)
    result = profile_model(model, 32, in_channels=1)
    assert result.total_params == sum(p.numel() for p in model.parameters())
    assert result.backbone_params == sum(p.numel() for p in model.features.parameters())
    assert sum(layer.params for layer in result.layers) == result.total_params


class TwoConvsAndResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 6, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1, groups=3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        y = self.bn(self.conv1(x))
        y = y + self.conv2(y)
        return self.fc(self.pool(y).flatten(1))


def test_madds_params_and_naive_peak_on_a_hand_counted_net():
    model = TwoConvsAndResidual()
    result = profile_model(model, input_size=10, in_channels=2)
    out_hw = 5 * 5
    conv1 = 3 * 3 * 2 * 6 * out_hw
    conv2 = 3 * 3 * (6 // 3) * 6 * out_hw
    assert result.total_madds == conv1 + conv2 + 6 * 4
    assert result.total_params == sum(p.numel() for p in model.parameters())
    by_name = {layer.name: layer for layer in result.layers}
    assert by_name["conv1"].output_shape == (1, 6, 5, 5) and by_name["conv1"].activation_bytes == 150
    # Graph order: input 200 B -> conv1 150 (bn folded into it) -> conv2 150 while conv1's output is
    # held for the add -> add 150 with both of its inputs still live: 450 bytes is the peak.
    assert result.peak_activation_bytes == 150 * 3
    assert result.peak_layer == "add"


def test_profile_is_the_same_in_train_and_eval_and_restores_mode():
    model = build_model("flynet-h3-0.25", num_classes=10, input_size=32, quant_noise_levels=8)
    model.train()
    first = profile_model(model, 32)
    assert model.training
    model.eval()
    assert profile_model(model, 32) == first


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_imagenet_profile_matches_the_paper(name):
    params, backbone, madds = PAPER_COUNTS[name]
    result = profile_model(build_model(name), 224)
    assert result.total_madds / 1e6 == pytest.approx(madds, rel=0.10)
    if (name, "params") not in UNMATCHED:
        assert result.total_params / 1e6 == pytest.approx(params, rel=0.05)
    if backbone is not None and (name, "backbone") not in UNMATCHED:
        assert result.backbone_params / 1e6 == pytest.approx(backbone, rel=0.05)


def test_cli_json_carries_the_profile():
    runner = CliRunner()
    outcome = runner.invoke(cli, ["profile", "flynet-h2-0.25", "--input-size", "32", "--classes", "10",
                                  "--in-channels", "1", "--json"])
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.output)
    model = build_model("flynet-h2-0.25", num_classes=10, input_size=32, in_channels=1)
    assert data["total_params"] == sum(p.numel() for p in model.parameters())
    assert data["input_shape"] == [1, 1, 32, 32]
    assert len(data["layers"]) == len(profile_model(model, 32, 1).layers)
    table = runner.invoke(cli, ["profile", "flynet-h2-0.25", "--input-size", "32"])
    assert table.exit_code == 0 and "peak int8 activations" in table.output
