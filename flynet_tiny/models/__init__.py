"""FlyNet, MobileNetV3-Small and MicroNet in PyTorch, each paper contribution its own module."""

from .attention import SqueezeExcite, VarianceECA
from .common import make_divisible
from .flynet import BASE_BLOCKS, BlockConfig, Bottleneck, FlyNet, ModelConfig, block_configs
from .mdw import FunnelMaxOut, MaxOut, MultiheadDepthwise, SumReLU
from .micro_factorized import FactorizedDepthwise, GroupPointwise, GroupShuffle
from .micronet import MicroBlock, MicroNet, MicroNetConfig
from .quant_noise import QuantNoise
from .registry import (build_model, build_model_from_config, config_for_name, list_models, validate_config,
                       validate_input_size)
from .residual import LightResidual
from .shift_max import DynamicShiftMax

__all__ = [
    "BASE_BLOCKS", "BlockConfig", "Bottleneck", "DynamicShiftMax", "FactorizedDepthwise", "FlyNet",
    "FunnelMaxOut", "GroupPointwise", "GroupShuffle", "LightResidual", "MaxOut", "MicroBlock", "MicroNet",
    "MicroNetConfig", "ModelConfig", "MultiheadDepthwise", "QuantNoise", "SqueezeExcite", "SumReLU",
    "VarianceECA", "block_configs", "build_model", "build_model_from_config", "config_for_name", "list_models",
    "make_divisible", "validate_config", "validate_input_size",
]
