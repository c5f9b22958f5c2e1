"""TFLite int8 fake quantization: weight grid, integer-arithmetic equivalence, op constraints."""

import operator

import numpy as np
import pytest
import torch
from torch import nn

from flynet_tiny.int8.kernel_params import quantize_multiplier
from flynet_tiny.errors import FlynetError
from flynet_tiny.quant import METHODS, load_quantized, quantize_model, save_quantized
from flynet_tiny.int8.fixed_point import multiply_by_quantized_multiplier
from flynet_tiny.quant.modules import QuantWeighted
from flynet_tiny.quant.qparams import activation_qparams
from quant_models import TinyFlyNet, fashion_images, fashion_mnist, randomize_batchnorm, registry_flynet


# --------------------------------------------------------------------- TFLite integer reference (numpy)

def int8_conv_reference(x_q, w_q, b_q, in_scale, in_zp, w_scales, out_scale, out_zp, padding):
    """int8 conv as TFLite computes it: int32 accumulation, per-channel requantization, clamp.

    Also returns each output's exact real value in output steps (acc x effective scale, float64)."""
    n, cin, h, w = x_q.shape
    cout, _, kh, kw = w_q.shape
    padded = np.pad(x_q.astype(np.int64) - in_zp, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, cout, h, w), dtype=np.int64)
    exact = np.zeros((n, cout, h, w), dtype=np.float64)
    for c in range(cout):
        acc = np.zeros((n, h, w), dtype=np.int64)
        for i in range(kh):
            for j in range(kw):
                patch = padded[:, :, i:i + h, j:j + w]
                acc += np.einsum("nchw,c->nhw", patch, w_q[c, :, i, j].astype(np.int64))
        acc += int(b_q[c])
        effective_scale = float(np.float64(in_scale) * np.float64(w_scales[c]) / np.float64(out_scale))
        requantized = multiply_by_quantized_multiplier(torch.from_numpy(acc), *quantize_multiplier(effective_scale))
        out[:, c] = requantized.numpy() + out_zp
        exact[:, c] = acc * effective_scale
    return np.clip(out, -128, 127), exact


# --------------------------------------------------------------------- tests

def fashion_mnist_labels(count: int) -> torch.Tensor:
    return fashion_mnist("train", 28).labels[:count]


def quantized_single_conv(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1)).eval()
    images = fashion_images(24, input_size=12).repeat(1, 3, 1, 1)  # real pixels, 3 channels
    images[:, 1] = -images[:, 1]
    qmodel = quantize_model(model, [images[:16]], num_samples=16, progress=False)
    return qmodel, images[16:]


def test_fake_quant_conv_equals_integer_tflite_arithmetic():
    qmodel, images = quantized_single_conv()
    quantizers = [m for _, m in qmodel.activation_quantizers()]
    (_, conv), = qmodel.weighted_layers()
    inp, out = quantizers
    with torch.no_grad():
        fake = qmodel(images)
    x_q = (torch.round(images / inp.scale).to(torch.int64) + int(inp.zero_point)).clamp(-128, 127)
    expected, exact = int8_conv_reference(
        x_q.numpy(), conv.int8_weight().numpy(), conv.int32_bias().numpy(), float(inp.scale), int(inp.zero_point),
        conv.weight_qparams()[0].numpy(), float(out.scale), int(out.zero_point), padding=1)
    dequantized = ((torch.from_numpy(expected).float() - float(out.zero_point)) * out.scale).numpy()
    # TFLite's fixed-point requantization rounds twice (at 2^-31, then by the shift), so an output
    # within a few thousandths of a step from a .5 tie may land one step away; nowhere else.
    near_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < 0.01
    differs = fake.numpy() != dequantized
    assert not np.any(differs & ~near_tie)
    assert np.all(np.abs(fake.numpy() - dequantized)[differs] <= float(out.scale) * 1.0001)
    assert np.count_nonzero(~near_tie) > 0.95 * expected.size


def test_per_channel_weight_error_is_at_most_half_a_step():
    qmodel, _ = quantized_single_conv(seed=1)
    (_, conv), = qmodel.weighted_layers()
    scales, zero_points = conv.weight_qparams()
    ints = conv.int8_weight()
    weight = conv.layer.weight.detach()
    error = (weight - ints.float() * scales.view(-1, 1, 1, 1)).abs().flatten(1).amax(1)
    assert torch.all(error <= scales / 2 * (1 + 1e-6))
    assert torch.all(zero_points == 0)
    assert torch.equal(ints.abs().flatten(1).amax(1), torch.full((6,), 127, dtype=torch.int8))
    assert scales.shape == (6,)


def test_bias_is_int32_with_input_times_weight_scale():
    qmodel, _ = quantized_single_conv(seed=2)
    (_, conv), = qmodel.weighted_layers()
    input_scale = float(conv.input_quant.scale)
    expected = (np.float64(input_scale) * conv.weight_qparams()[0].double().numpy()).astype(np.float32)
    assert np.array_equal(conv.bias_scale().numpy(), expected)
    assert conv.int32_bias().dtype == torch.int32
    assert torch.all((conv.int32_bias().double() * conv.bias_scale().double() - conv.layer.bias.double()).abs()
                     <= conv.bias_scale().double() / 2 + 1e-12)


@pytest.mark.parametrize("low,high", [(-1.3, 2.7), (0.0, 6.0), (0.2, 0.9), (-5.0, -0.5)])
def test_activation_range_contains_an_exact_zero(low, high):
    scale, zero_point = activation_qparams(low, high)
    assert -128 <= zero_point <= 127
    assert (-128 - zero_point) * scale <= min(low, 0.0) + scale / 2
    assert (127 - zero_point) * scale >= max(high, 0.0) - scale / 2
    zero = torch.fake_quantize_per_tensor_affine(torch.zeros(1), scale, zero_point, -128, 127)
    assert float(zero) == 0.0


def quantizer_of(node):
    """The ActFakeQuant call that reads `node`'s output (every int8 tensor has exactly one)."""
    users = [u for u in node.users if u.op == "call_module" and u.target.startswith("quant_")]
    return users[0] if users else None


@pytest.fixture(scope="module")
def tiny_quantized():
    model = randomize_batchnorm(TinyFlyNet(), seed=4)
    images = fashion_images(64, input_size=28)
    return quantize_model(model, [images[:32], images[32:]], num_samples=64, progress=False)


def test_op_constraints_of_tflite_are_enforced(tiny_quantized):
    gm = tiny_quantized.graph_module
    modules = dict(gm.named_modules())
    params = lambda node: (float(modules[node.target].scale), int(modules[node.target].zero_point))
    checked = set()
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target is torch.sigmoid:
            assert params(quantizer_of(node)) == (1 / 256, -128)
            checked.add("logistic")
        if node.op == "call_function" and node.target is torch.cat:
            out = params(quantizer_of(node))
            assert all(params(source) == out for source in node.args[0])
            checked.add("concatenation")
        if node.op == "call_method" and node.target in ("amax", "reshape"):
            assert params(quantizer_of(node)) == params(node.args[0])
            checked.add(node.target)
        if node.op == "call_module" and isinstance(modules[node.target], nn.AdaptiveAvgPool2d):
            assert params(quantizer_of(node)) == params(node.args[0])
            checked.add("average pool")
        if node.op == "call_module" and isinstance(modules[node.target], (nn.ReLU, nn.ReLU6)):
            producer = node.args[0]
            assert isinstance(modules[producer.target], QuantWeighted) and quantizer_of(producer) is None
            quantizer = modules[quantizer_of(node).target]
            shares_group = sum(m.group == quantizer.group for _, m in tiny_quantized.activation_quantizers()) > 1
            if not shares_group:  # a concat may widen a shared range below 0
                assert params(quantizer_of(node))[1] == -128  # the fused activation's range starts at 0
            checked.add("fused relu")
        if node.op == "call_function" and node.target is operator.mul and node.args[0] is node.args[1]:
            assert node.args[0].target is operator.sub and quantizer_of(node.args[0]) is None
            checked.add("squared difference")
    assert checked == {"logistic", "concatenation", "amax", "reshape", "average pool", "fused relu",
                       "squared difference"}


def test_hardsigmoid_is_lowered_to_add_relu6_mul(tiny_quantized):
    gm = tiny_quantized.graph_module
    assert not any(isinstance(m, nn.Hardsigmoid) for m in gm.modules())
    relu6 = [n for n in gm.graph.nodes if n.target is torch.nn.functional.relu6]
    assert len(relu6) == 1
    add = relu6[0].args[0]
    assert add.target is operator.add and quantizer_of(add) is None
    constant = gm.get_submodule(add.args[1].target)
    assert float(constant.value) == 3.0 and int(constant.zero_point) == 0
    mul = next(iter(quantizer_of(relu6[0]).users))
    assert mul.target is operator.mul and float(gm.get_submodule(mul.args[1].target).value) == pytest.approx(1 / 6)


def test_every_int8_tensor_is_on_its_grid(tiny_quantized):
    captured = {}
    hooks = [m.register_forward_hook(lambda mod, _, out, name=name: captured.__setitem__(name, (mod, out)))
             for name, m in tiny_quantized.activation_quantizers()]
    with torch.no_grad():
        tiny_quantized(fashion_images(8, input_size=28, offset=100))
    for hook in hooks:
        hook.remove()
    assert len(captured) == len(list(tiny_quantized.activation_quantizers()))
    for mod, out in captured.values():
        q = out / mod.scale + mod.zero_point
        assert torch.equal(q, torch.round(q).clamp(-128, 127)) or float((q - torch.round(q)).abs().max()) < 1e-3


def test_observers_order_their_ranges():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(16, 16)).eval()
    data = torch.distributions.StudentT(2.0).sample((256, 16))  # heavy tails: percentile and mse clip them
    ranges = {}
    for method in METHODS:
        qmodel = quantize_model(model, [data], method, 256, input_qparams=None, progress=False)
        ranges[method] = float(next(m for _, m in qmodel.activation_quantizers()).scale)
    assert ranges["percentile"] < ranges["minmax"] and ranges["mse"] < ranges["minmax"]


def test_unknown_method_and_empty_data_are_rejected():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(FlynetError, match="unknown calibration method"):
        quantize_model(model, [torch.zeros(2, 4)], method="kl", progress=False)
    with pytest.raises(FlynetError, match="calibration data is empty"):
        quantize_model(model, [], progress=False)


def test_saved_quantized_model_reloads_identically(tmp_path):
    """The file holds the rebuild recipe and tensors only; the rebuilt graph computes the same bytes."""
    model = registry_flynet("flynet-h3-0.25", seed=3)
    model.set_temperature(2.5)  # traced into the graph as a constant: the file must carry it
    images = fashion_images(64)
    quantized = quantize_model(model, [images[:32], images[32:]], method="percentile", num_samples=64, progress=False)
    path = tmp_path / "model.int8.pt"
    save_quantized(quantized, path, {"data_info": {"input_size": 32}})
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []  # nothing but tensors and plain data
    reloaded, info = load_quantized(path)
    with torch.no_grad():
        assert torch.equal(reloaded(images), quantized(images))
        with reloaded.integer_mode(), quantized.integer_mode():
            assert torch.equal(reloaded(images), quantized(images))
    assert info == {"data_info": {"input_size": 32}} and reloaded.method == "percentile"
    (tmp_path / "broken.pt").write_bytes(b"not a model")
    with pytest.raises(FlynetError, match="corrupt or not a flynet-tiny quantized model"):
        load_quantized(tmp_path / "broken.pt")


def test_a_model_without_a_registry_config_is_not_saved(tiny_quantized, tmp_path):
    with pytest.raises(FlynetError, match="only registry models"):
        save_quantized(tiny_quantized, tmp_path / "tiny.int8.pt")
    assert not any(tmp_path.iterdir())


def test_qat_trains_through_the_fake_quantizers_and_converts():
    from flynet_tiny.quant import convert_qat, prepare_qat, qat_parameters

    torch.manual_seed(7)
    model = randomize_batchnorm(TinyFlyNet(), seed=7)
    images = fashion_images(32, "train", 28)
    labels = fashion_mnist_labels(32)
    qat_model = prepare_qat(model, images[:1], [images], num_samples=32, progress=False)
    frozen = [(float(m.scale), int(m.zero_point)) for _, m in qat_model.activation_quantizers()]
    optimizer = torch.optim.SGD(qat_parameters(qat_model), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(qat_model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in qat_parameters(qat_model))
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert [(float(m.scale), int(m.zero_point)) for _, m in qat_model.activation_quantizers()] == frozen
    converted = convert_qat(qat_model)
    assert not converted.training and not any(p.requires_grad for p in converted.parameters())
    with torch.no_grad():
        assert torch.equal(converted(images), qat_model.eval()(images))
    for _, layer in converted.weighted_layers():
        scale = layer.weight_qparams()[0]
        shape = (-1,) + (1,) * (layer.layer.weight.ndim - 1) if layer.per_channel else ()
        on_grid = layer.int8_weight().float() * scale.reshape(shape)
        assert torch.equal(layer.quantized_weight(), on_grid)
