"""BN folding: the folded float model computes the same logits as the eval model with BN."""

import pytest
import torch
from torch import nn

from flynet_tiny.errors import FlynetError
from flynet_tiny.quant import fold_batchnorm
from quant_models import TinyFlyNet, fashion_images, randomize_batchnorm, registry_flynet


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("build", [lambda: randomize_batchnorm(TinyFlyNet(), seed=1), registry_flynet],
                         ids=["tiny-flynet", "flynet-h3-0.25"])
def test_folded_logits_equal_eval_logits_on_fashion_mnist(build):
    model = build()
    images = fashion_images(64)
    with torch.no_grad():
        expected = model(images)
        folded = fold_batchnorm(model)(images)
    assert relative_error(folded, expected) <= 1e-4


def test_folding_removes_every_batchnorm_and_leaves_the_input_model_alone():
    model = randomize_batchnorm(TinyFlyNet(), seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 3
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_depthwise_multihead_fold_scales_each_output_channel():
    conv = nn.Conv2d(4, 12, 3, padding=1, groups=4, bias=False)  # MDW: 3 heads per input channel
    bn = nn.BatchNorm2d(12)
    model = randomize_batchnorm(nn.Sequential(conv, bn), seed=3)
    folded = fold_batchnorm(model)
    k = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    layer = folded.get_submodule("0")
    assert torch.allclose(layer.weight, conv.weight * k.view(-1, 1, 1, 1), rtol=1e-6, atol=0)
    assert torch.allclose(layer.bias, bn.bias - bn.running_mean * k, rtol=1e-6, atol=1e-7)


def test_batchnorm_without_a_conv_is_rejected():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
    with pytest.raises(FlynetError, match="does not directly follow a conv"):
        fold_batchnorm(model)
