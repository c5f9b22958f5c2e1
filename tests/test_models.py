"""FlyNet building blocks, the registry and its input checks."""

import sys

import numpy as np
import pytest
import torch
import torch.fx

from flynet_tiny.cli import main
from flynet_tiny.errors import FlynetError
from flynet_tiny.models import (BlockConfig, Bottleneck, FunnelMaxOut, LightResidual, MaxOut, MultiheadDepthwise, QuantNoise, SumReLU,
                                VarianceECA, build_model, build_model_from_config, list_models)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_multihead_depthwise_shape_channel_order_and_gradient():
    mdw = MultiheadDepthwise(channels=4, heads=3, kernel_size=5, stride=2)
    x = torch.zeros(1, 4, 8, 8, requires_grad=True)
    with torch.no_grad():
        x[0, 2] = torch.randn(8, 8)
    mdw.eval()
    y = mdw.conv(x)
    assert y.shape == (1, 12, 4, 4)
    # Output channel c*h + j belongs to input channel c (TFLite depth_multiplier order).
    nonzero = [c for c in range(12) if y[0, c].abs().sum() > 0]
    assert nonzero == [6, 7, 8]
    mdw.train()
    mdw(x).square().sum().backward()
    assert mdw.conv.weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0


def test_maxout_equals_explicit_max_over_heads():
    heads, channels = 3, 5
    x = torch.randn(2, channels * heads, 4, 4)
    explicit = torch.stack([torch.stack([x[:, c * heads + j] for j in range(heads)]).max(dim=0).values
                            for c in range(channels)], dim=1)
    assert torch.equal(MaxOut(heads)(x, x), explicit)


def test_sum_relu_and_funnel_maxout_match_their_definitions():
    heads, channels = 2, 3
    x = torch.randn(1, channels * heads, 4, 4)
    source = torch.randn(1, channels, 8, 8)
    summed = torch.stack([x[:, 2 * c] + x[:, 2 * c + 1] for c in range(channels)], dim=1).clamp_min(0)
    assert torch.equal(SumReLU(heads)(x, source), summed)
    sub = source[:, :, ::2, ::2]
    funnel = torch.stack([torch.maximum(sub[:, c], torch.maximum(x[:, 2 * c], x[:, 2 * c + 1]))
                          for c in range(channels)], dim=1)
    assert torch.equal(FunnelMaxOut(heads, stride=2)(x, source), funnel)


def _eq2_scores(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Equation 2 by hand: s_n = sum_t k[0,t] mu[n+t-z//2] + k[1,t] var[n+t-z//2], zero padded."""
    channels, z = x.shape[0], kernel.shape[1]
    mu = np.array([x[n].sum() / x[n].size for n in range(channels)])
    var = np.array([((x[n] - mu[n]) ** 2).sum() / x[n].size for n in range(channels)])
    scores = np.zeros(channels)
    for n in range(channels):
        for t in range(z):
            i = n + t - z // 2
            if 0 <= i < channels:
                scores[n] += kernel[0, t] * mu[i] + kernel[1, t] * var[i]
    return scores


def test_variance_eca_sigmoid_equals_equation_2():
    x = torch.arange(6 * 2 * 3, dtype=torch.float64).reshape(1, 6, 2, 3).sin() * 3
    eca = VarianceECA(channels=6, heads=1, kernel_size=7, gate="sigmoid").double()
    kernel = np.linspace(-0.5, 0.6, 14).reshape(2, 7)
    with torch.no_grad():
        eca.conv.weight.copy_(torch.from_numpy(kernel).unsqueeze(0))
    scores = _eq2_scores(x[0].numpy(), kernel)
    expected = x[0].numpy() * (1 / (1 + np.exp(-scores)))[:, None, None]
    np.testing.assert_allclose(eca(x)[0].detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_variance_eca_softmax_over_heads_with_temperature():
    heads, temperature = 3, 4.0
    x = torch.randn(1, 4 * heads, 3, 3, dtype=torch.float64)
    eca = VarianceECA(channels=4 * heads, heads=heads, gate="softmax").double()
    eca.set_temperature(temperature)
    scores = _eq2_scores(x[0].numpy(), eca.conv.weight[0].detach().numpy()).reshape(4, heads) / temperature
    weights = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected = x[0].numpy() * weights.reshape(-1)[:, None, None]
    np.testing.assert_allclose(eca(x)[0].detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_model_set_temperature_reaches_every_eca():
    model = build_model("flynet-h2-0.25", num_classes=10, input_size=32)
    model.set_temperature(10)
    temps = {m.temperature for m in model.modules() if isinstance(m, VarianceECA)}
    assert temps == {10.0}


@pytest.mark.parametrize("reduction", ["maxout", "sum_relu", "funnel_maxout"])
@pytest.mark.parametrize("cin,cout,stride", [(8, 16, 2), (16, 8, 1), (16, 16, 1)])
def test_bottleneck_shapes_and_gradients(reduction, cin, cout, stride):
    cfg = BlockConfig(in_channels=cin, kernel=5, expanded=24, out_channels=cout, activation="HS", stride=stride,
                      heads=3, attention="eca", eca_gate="softmax", eca_kernel=7, reduction=reduction,
                      light_residuals=True)
    torch.manual_seed(0)
    block = Bottleneck(cfg)
    x = torch.randn(2, cin, 8, 8, requires_grad=True)
    out = block(x)
    assert out.shape == (2, cout, 8 // stride, 8 // stride)
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_single_head_keeps_non_trivial_reductions():
    def block(reduction):
        return Bottleneck(BlockConfig(in_channels=8, kernel=3, expanded=16, out_channels=8, activation="RE",
                                      stride=1, heads=1, attention="eca", eca_gate="sigmoid", eca_kernel=7,
                                      reduction=reduction, light_residuals=False))
    assert block("maxout").reduce is None
    assert isinstance(block("funnel_maxout").reduce, FunnelMaxOut)
    assert isinstance(block("sum_relu").reduce, SumReLU)


def test_maxout_and_eca_pass_gradients():
    x = torch.randn(1, 6, 4, 4, requires_grad=True)
    MaxOut(3)(x, x).sum().backward()
    # Each output takes its gradient from exactly one of the three heads.
    assert int((x.grad != 0).sum()) == 2 * 4 * 4
    eca = VarianceECA(6, heads=3, gate="softmax")
    x.grad = None
    eca(x).square().sum().backward()
    assert eca.conv.weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0


def test_light_residual_crop_when_shrinking():
    x = torch.randn(2, 8, 6, 6)
    out = LightResidual(8, 5)(x)
    assert torch.equal(out, x[:, :5])


def test_light_residual_concat_mdw_when_growing():
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    residual = LightResidual(4, 11, kernel_size=3)
    out = residual(x)
    assert out.shape == (2, 11, 6, 6)
    assert torch.equal(out[:, :4], x)  # [A, MDW(A)]: A passes unchanged
    out.sum().backward()
    assert residual.fill.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("cin,cout", [(8, 8), (8, 5), (4, 11)])
def test_light_residual_downsamples_with_depthwise(cin, cout):
    residual = LightResidual(cin, cout, stride=2)
    assert residual(torch.randn(1, cin, 8, 8)).shape == (1, cout, 4, 4)
    assert residual.downsample.groups == min(cin, cout)


def test_quant_noise_identity_in_eval_and_q_levels_in_train():
    x = torch.linspace(-3, 5, 1000, requires_grad=True)
    for levels in (4, 6, 8, 16):
        noise = QuantNoise(levels)
        assert torch.equal(noise.eval()(x), x)
        y = noise.train()(x)
        assert torch.unique(y.detach()).numel() == levels
        assert float(y.detach().min()) == pytest.approx(-3) and float(y.detach().max()) == pytest.approx(5)
        x.grad = None
        y.sum().backward()
        assert torch.equal(x.grad, torch.ones_like(x))  # straight-through


@pytest.mark.parametrize("name", list_models())
def test_every_registry_model_trains_at_32_and_224(name):
    # 32x32 ends at 1x1 and MicroNet's head has BatchNorm1d: BN in training needs a batch of 2.
    for size, batch in ((32, 2), (224, 2)):
        model = build_model(name, num_classes=10, input_size=size)
        out = model(torch.randn(batch, 3, size, size))
        assert out.shape == (batch, 10)
        out.sum().backward()
        assert all(p.grad is not None for p in model.parameters())


def test_small_input_variant_and_single_channel():
    model = build_model("flynet-h3-0.5", num_classes=10, input_size=32, in_channels=1, stem_stride=1)
    assert model.config.total_stride == 16
    features = model.features(torch.randn(2, 1, 32, 32))
    assert features.shape[-2:] == (2, 2)


def test_models_trace_with_fx_and_match_eager():
    for name in ("flynet-h3-0.25", "mobilenetv3-small-0.5"):
        model = build_model(name, num_classes=10, input_size=32).eval()
        traced = torch.fx.symbolic_trace(model)
        x = torch.randn(2, 3, 32, 32)
        assert torch.equal(traced(x), model(x))


def test_onnx_export_runs_in_onnxruntime_like_eager():
    import io
    import warnings

    import onnxruntime

    model = build_model("flynet-h3-0.25", num_classes=10, input_size=32, in_channels=1).eval()
    x = torch.randn(2, 1, 32, 32)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["x"], opset_version=17)
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], model(x).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_config_round_trip_rebuilds_the_same_architecture():
    model = build_model("flynet-h4-0.5", num_classes=7, input_size=32, in_channels=1, reduction="sum_relu")
    rebuilt = build_model_from_config(model.config.to_dict())
    assert rebuilt.config == model.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


def test_mobilenetv3_small_matches_torchvision_parameter_count():
    # torchvision's mobilenet_v3_small has 2,542,856 parameters; ours is built from the same table.
    model = build_model("mobilenetv3-small-1.0")
    assert sum(p.numel() for p in model.parameters()) == 2_542_856


@pytest.mark.parametrize("name,kwargs,fragment", [
    ("flynet-h3-0.5x-big", {}, "flynet-h<1..5>"),
    ("flynet-h6-0.5", {}, "allowed 1..5"),
    ("flynet-h3-1.2", {}, "allowed 0.25..1"),
    ("flynet-h3-0.1", {}, "allowed 0.25..1"),
    ("flynet-h3-0.5", {"input_size": 48}, "smallest 32"),
    ("flynet-h3-0.5", {"input_size": 8, "stem_stride": 1}, "smallest 16"),
    ("flynet-h3-0.5", {"in_channels": 4}, "allowed 1 or 3"),
    ("flynet-h3-0.5", {"quant_noise_levels": 5}, "allowed 4, 6, 8, 16"),
])
def test_bad_input_names_the_allowed_values(name, kwargs, fragment):
    with pytest.raises(FlynetError) as info:
        build_model(name, **kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_cli_bad_model_exits_2_with_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["flynet-tiny", "profile", "flynet-h9-0.5"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["error: heads 9 out of range: allowed 1..5"]
    assert captured.out == ""
