"""MicroNet: Micro-Factorized convolutions, dynamic Shift-Max, the M0-M3 tables and the registry.

The paper's parameter and MAdd counts are checked with every other model's in test_profiler.py
(flynet_tiny/models/paper.py lists M0-M3).
"""

import numpy as np
import pytest
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from flynet_tiny.errors import FlynetError
from flynet_tiny.models import (DynamicShiftMax, FactorizedDepthwise, GroupShuffle, MicroNet, build_model,
                                build_model_from_config)
from flynet_tiny.models.micronet import VARIANTS, MicroNetConfig, block_configs
from flynet_tiny.models.profiler import profile_model

MICRONETS = [f"micronet-{v}" for v in VARIANTS]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.mark.parametrize("channels,groups_in,groups_out", [
    (16, 4, 4), (64, 4, 4), (24, 4, 3), (96, 8, 12), (120, 10, 12), (480, 10, 10),
])
def test_group_shuffle_is_a_permutation_giving_every_block_every_input_group(channels, groups_in, groups_out):
    x = torch.arange(channels, dtype=torch.float64).view(1, channels, 1, 1).expand(1, channels, 2, 3)
    y = GroupShuffle(channels, groups_in, groups_out)(x)
    order = y[0, :, 0, 0].long()
    assert sorted(order.tolist()) == list(range(channels))
    assert torch.equal(y, x[:, order])  # a pure channel permutation, the same at every pixel
    per_group, block = channels // groups_in, channels // groups_out
    for j in range(groups_out):
        sources = {int(c) // per_group for c in order[j * block:(j + 1) * block]}
        assert sources == set(range(groups_in))


def test_group_shuffle_block_j_is_slice_j_of_every_group_when_it_divides():
    # 4 groups of 6 channels, 3 output blocks: block j holds positions 2j, 2j+1 of each group.
    order = GroupShuffle(24, 4, 3)(torch.arange(24.0).view(1, 24, 1, 1))[0, :, 0, 0].long().tolist()
    expected = [g * 6 + 2 * j + t for j in range(3) for g in range(4) for t in range(2)]
    assert order == expected


@pytest.mark.parametrize("multipliers", [(1, 1), (2, 2), (2, 3)])
def test_factorized_depthwise_is_a_rank_one_kxk_depthwise(multipliers):
    channels, k, stride = 3, 5, 2
    layer = FactorizedDepthwise(channels, k, stride, multipliers).double()
    conv_kx1, conv_1xk = layer[0], layer[2]
    x = torch.randn(1, channels, 10, 12, dtype=torch.float64)
    m1, m2 = multipliers
    y = conv_1xk(conv_kx1(x))
    assert y.shape == (1, channels * m1 * m2, 5, 6)
    # Output channel (c*m1 + h1)*m2 + h2 is input c filtered by outer(k x 1 head h1, its 1 x k head h2).
    kernels = torch.stack([torch.outer(conv_kx1.weight[mid, 0, :, 0], conv_1xk.weight[o, 0, 0, :])
                           for o in range(channels * m1 * m2) for mid in [o // m2]])
    expected = F.conv2d(x, kernels.unsqueeze(1), stride=stride, padding=k // 2, groups=channels)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


def _random_linear(layer: nn.Linear, gen: torch.Generator) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64))
        layer.bias.copy_(torch.randn(layer.bias.shape, generator=gen, dtype=torch.float64))


@pytest.mark.parametrize("fusions,offsets", [(2, ((1.0, 0.0), (0.5, 0.5))), (1, ((1.0, 0.0),))])
def test_dynamic_shift_max_equals_equation_4(fusions, offsets):
    channels, groups = 6, 3
    gen = torch.Generator().manual_seed(0)
    layer = DynamicShiftMax(channels, groups, fusions, reduction=2, offsets=offsets).double()
    _random_linear(layer.fc1, gen)
    _random_linear(layer.fc2, gen)
    x = torch.randn(1, channels, 3, 4, generator=gen, dtype=torch.float64)
    # The hyper-function by hand: mean -> FC -> ReLU -> FC -> hard-sigmoid -> offset - 2 .. offset + 2.
    w1, b1 = layer.fc1.weight.detach().numpy(), layer.fc1.bias.detach().numpy()
    w2, b2 = layer.fc2.weight.detach().numpy(), layer.fc2.bias.detach().numpy()
    xn = x[0].numpy()
    hidden = np.maximum(w1 @ xn.mean(axis=(1, 2)) + b1, 0)
    gate = np.clip((w2 @ hidden + b2) / 6 + 0.5, 0, 1)
    coefficient = (4 * gate - 2).reshape(2 * fusions, channels) + np.array([v for ab in offsets for v in ab])[:, None]
    expected = np.empty_like(xn)
    step = channels // groups
    for i in range(channels):
        partner = xn[(i + step) % channels]  # x_(i + C/G) mod C: same position, next group
        fused = [coefficient[2 * k, i] * xn[i] + coefficient[2 * k + 1, i] * partner for k in range(fusions)]
        expected[i] = np.max(fused, axis=0)
    np.testing.assert_allclose(layer(x)[0].detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_dynamic_shift_max_starts_at_its_offsets():
    layer = DynamicShiftMax(8, 2, 2, reduction=4, offsets=((1.0, 0.0), (1.0, 0.0)))
    nn.init.zeros_(layer.fc2.weight)
    nn.init.zeros_(layer.fc2.bias)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(layer(x), x)  # max(1*x + 0*shifted, 1*x + 0*shifted)


class OneShiftMax(nn.Module):
    def __init__(self, fusions: int):
        super().__init__()
        self.act = DynamicShiftMax(8, 2, fusions, reduction=4, offsets=((1.0, 0.0),) * fusions)

    def forward(self, x):
        return self.act(x) * 2.0  # a Python-constant scale outside: never counted


@pytest.mark.parametrize("fusions", [1, 2])
def test_profile_counts_applying_shift_max_coefficients(fusions):
    result = profile_model(OneShiftMax(fusions), input_size=6, in_channels=8)
    squeeze = 4  # 8 // 4 = 2, rounded up to the minimum of 4
    hyper = 8 * squeeze + squeeze * (2 * fusions * 8)
    applying = 2 * fusions * 8 * 6 * 6  # J = 2 multiplies per fusion, per output element
    assert result.total_madds == hyper + applying
    assert result.total_params == (8 + 1) * squeeze + (squeeze + 1) * 2 * fusions * 8


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_width_one_gives_the_table_back(variant):
    spec = VARIANTS[variant]
    blocks = block_configs(MicroNetConfig(name=variant, variant=variant))
    assert [b.out_channels for b in blocks[:-1]] == [row.out_channels for row in spec.blocks[:-1]]
    assert blocks[0].in_channels == spec.stem[0] * spec.stem[1]
    for block, row in zip(blocks, spec.blocks):
        assert block.hidden == block.in_channels * (4 if row.kind == "A" else row.ratio)


def test_m0_and_m2_channels_follow_table_1():
    # Table 1 (k, C, C/R per Micro-Block; stem 3x1 + 1x3 group conv), read as (in, hidden, out).
    m0 = [(4, 16, 8), (8, 32, 12), (12, 48, 16), (16, 64, 32), (32, 128, 64), (64, 256, 96), (96, 384, 384)]
    m2 = [(8, 32, 12), (12, 48, 16), (16, 64, 24), (24, 144, 32), (32, 192, 32), (32, 192, 64), (64, 384, 96),
          (96, 576, 128), (128, 768, 768)]
    for variant, table in (("m0", m0), ("m2", m2)):
        blocks = block_configs(MicroNetConfig(name=variant, variant=variant))
        assert [(b.in_channels, b.hidden, b.out_channels) for b in blocks] == table


@pytest.mark.parametrize("name", MICRONETS)
@pytest.mark.parametrize("stem_stride", [1, 2])
def test_micronet_traces_with_fx_and_matches_eager(name, stem_stride):
    model = build_model(name, num_classes=10, input_size=32, stem_stride=stem_stride).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(traced(x), model(x))


# Everything the traced graph may call: ops with TFLite int8 builtins (the group conv included) and
# channel moves that lower to RESHAPE / STRIDED_SLICE / CONCATENATION; no transpose, gather or roll.
# (getattr reads x.shape for GroupShuffle's last reshape; the export freezes it to constants.)
LOWERABLE_MODULES = (nn.Conv2d, nn.BatchNorm2d, nn.BatchNorm1d, nn.ReLU, nn.ReLU6, nn.Linear, nn.Hardsigmoid,
                     nn.Hardswish, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout)
LOWERABLE_CALLS = {"add", "mul", "maximum", "cat", "getitem", "mean", "unsqueeze", "unflatten", "flatten", "getattr"}


def test_micronet_graph_uses_only_lowerable_ops():
    model = build_model("micronet-m2", num_classes=10, input_size=32, stem_stride=1).eval()
    graph_module = torch.fx.symbolic_trace(model)
    modules = dict(graph_module.named_modules())
    calls = set()
    for node in graph_module.graph.nodes:
        if node.op == "call_module":
            assert isinstance(modules[node.target], LOWERABLE_MODULES), node.target
        elif node.op in ("call_function", "call_method"):
            calls.add(node.target if isinstance(node.target, str) else node.target.__name__)
    assert calls == LOWERABLE_CALLS


@pytest.mark.parametrize("name", MICRONETS)
def test_micronet_trains_on_small_inputs(name):
    model = build_model(name, num_classes=10, input_size=32, stem_stride=1)
    features = model.features(torch.randn(2, 3, 32, 32))
    assert features.shape[-2:] == (2, 2)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_micronet_single_channel_input():
    model = build_model("micronet-m1", num_classes=10, input_size=32, in_channels=1)
    assert model.features[0][0].in_channels == 1
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    result = profile_model(model, 32, in_channels=1)
    assert result.total_params == sum(p.numel() for p in model.parameters())
    assert result.backbone_params == sum(p.numel() for p in model.features.parameters())


def test_micronet_config_round_trip_rebuilds_the_same_architecture():
    model = build_model("micronet-m2-0.6", num_classes=7, input_size=32, in_channels=1, stem_stride=1,
                        quant_noise_levels=8)
    data = model.config.to_dict()
    assert data["family"] == "micronet" and data["variant"] == "m2" and data["width"] == 0.6
    rebuilt = build_model_from_config(data)
    assert isinstance(rebuilt, MicroNet) and rebuilt.config == model.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(rebuilt.eval()(x), model.eval()(x))
    # FlyNet configs carry no family key and still rebuild FlyNets.
    flynet = build_model("flynet-h2-0.25", num_classes=7, input_size=32)
    assert "family" not in flynet.config.to_dict()
    assert type(build_model_from_config(flynet.config.to_dict())).__name__ == "FlyNet"


@pytest.mark.parametrize("build,fragment", [
    (lambda: build_model("micronet-m4"), "allowed m0, m1, m2, m3"),
    (lambda: build_model("micronet-m1-2.5"), "allowed 0.25..2"),
    (lambda: build_model("micronet-m1", heads=3), "options are fields of MicroNetConfig"),
    (lambda: build_model("micronet-m1", input_size=48), "smallest 32"),
    (lambda: build_model_from_config({"family": "micronet", "name": "x", "heads": 3}), "unknown model config keys"),
])
def test_micronet_bad_input_names_the_fix(build, fragment):
    with pytest.raises(FlynetError) as info:
        build()
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2
