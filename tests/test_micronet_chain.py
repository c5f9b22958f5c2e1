"""MicroNet through the whole chain: every module quantized, the converter's builtins (grouped CONV_2D,
MAXIMUM, 4-D shuffles), and the code generator's fused layers (Shift-Max, grouped conv with the shuffle
folded in) bit-exact with TFLite Micro: the host build per fused layer, the Cortex-M4 build in QEMU once.
Hermetic: synthetic images, random weights with non-trivial BatchNorm statistics."""

from __future__ import annotations

import functools

import flatbuffers
import numpy as np
import pytest
import torch
from torch import nn

from flynet_tiny.codegen.generate import build_ir, generate_model_sources, layer_checksum
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.convert.onnx_export import export_qdq_onnx
from flynet_tiny.convert.to_tflite import convert_qdq_onnx
from flynet_tiny.data.datasets import normalize, synthetic_dataset
from flynet_tiny.models import build_model
from flynet_tiny.quant import IMAGE_INPUT_QPARAMS, quantize_model
from flynet_tiny.quant.model import build_quantized
from flynet_tiny.quant.modules import ActFakeQuant, QuantWeighted
from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import run_tflm
from flynet_tiny.verify.agreement import TFLM, TORCH_INT, verify

SIZE = 32
NAME = "micronet-m0-0.5"  # every block kind (A, B, C, expand), K = 1 and K = 2 Shift-Max, 12-way shuffles
FUSED_KINDS = ("SHIFT_MAX", "GROUP_CONV_2D", "CHANNEL_GATHER", "TABLE_CHAIN")


def micronet(name: str = NAME, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(name, num_classes=10, input_size=SIZE, in_channels=3, stem_stride=1).eval()
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():  # BatchNorm1d of the head included
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen) * 0.3)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            module.weight.data.copy_(torch.randn(n, generator=gen) * 0.3 + 1)
            module.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
    return model


def images(count: int, split: str = "train") -> torch.Tensor:
    return normalize(synthetic_dataset(count, input_size=SIZE, in_channels=3, num_classes=10, seed=5,
                                       split=split).images)


def int8_images(x: torch.Tensor) -> list[np.ndarray]:
    scale, zero_point = IMAGE_INPUT_QPARAMS
    nhwc = x.permute(0, 2, 3, 1).numpy()
    return [np.clip(np.round(img / scale) + zero_point, -128, 127).astype(np.int8)[None] for img in nhwc]


@functools.lru_cache(maxsize=None)
def converted(tmp_dir: str) -> tuple[object, bytes]:
    qmodel = quantize_model(micronet(), [images(32)], num_samples=32, progress=False)
    path = f"{tmp_dir}/model_qdq.onnx"
    export_qdq_onnx(qmodel, path, images(1))
    return qmodel, convert_qdq_onnx(path)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return converted(str(tmp_path_factory.mktemp("micronet")))


def test_every_micronet_module_is_quantized():
    """Grouped convs, the Shift-Max FCs, the lowered hard-sigmoid, MAXIMUM on one grid, BatchNorm1d folded."""
    model = micronet()
    quantized = build_quantized(model, images(1))
    modules = dict(quantized.graph_module.named_modules())
    assert not any(isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Hardsigmoid)) for m in modules.values())
    weighted = [m.layer for m in modules.values() if isinstance(m, QuantWeighted)]
    float_layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == len(float_layers)
    grouped = [layer for layer in weighted if isinstance(layer, nn.Conv2d) and 1 < layer.groups < layer.in_channels]
    assert len(grouped) == sum(1 for m in float_layers if isinstance(m, nn.Conv2d) and 1 < m.groups < m.in_channels) > 0
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == 2  # folded into the head's two Linears
    maxima = [n for n in quantized.graph_module.graph.nodes if n.target is torch.maximum]
    assert maxima
    for node in maxima:
        groups = {modules[a.target].group for a in node.args}
        groups.add(modules[next(iter(node.users)).target].group)
        assert len(groups) == 1 and all(isinstance(modules[a.target], ActFakeQuant) for a in node.args)


def test_converter_writes_four_dimensional_builtins_only(chain):
    _, model_bytes = chain
    graph = read_tflite(model_bytes)
    ops = graph.op_counts()
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAXIMUM", "MUL", "ADD", "MEAN", "FULLY_CONNECTED", "HARD_SWISH",
            "STRIDED_SLICE", "CONCATENATION"} <= set(ops)
    assert not {"TRANSPOSE", "GATHER", "CUSTOM"} & set(ops)
    assert max(len(t.shape) for t in graph.tensors) <= 4
    grouped = [op for op in graph.operators if op.opcode == "CONV_2D"
               and graph.tensors[op.inputs[1]].shape[3] < graph.tensors[op.inputs[0]].shape[3]]
    assert grouped


def test_integer_mode_equals_tflm_on_the_converted_micronet(chain):
    qmodel, model_bytes = chain
    report = verify(model_bytes, None, qmodel, images(8, "test").numpy(), measure_arena=False)
    assert np.array_equal(report.outputs[TORCH_INT], report.outputs[TFLM])


def with_outputs(model_bytes: bytes, tensors: list[int]) -> bytes:
    """The same model with `tensors` as its graph outputs (TFLM's Python runtime shows only outputs)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    model.subgraphs[0].outputs = np.array(tensors, dtype=np.int32)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_generated_micronet_fused_layers_are_bit_exact_with_tflm(chain, tmp_path):
    _, model_bytes = chain
    ir = build_ir(model_bytes)
    kinds = [layer.kind for layer in ir.layers]
    assert kinds.count("SHIFT_MAX") == 15 and kinds.count("GROUP_CONV_2D") == 10 and kinds.count("TABLE_CHAIN") == 15
    assert all(layer.attrs["channel_map"] is not None for layer in ir.layers if layer.kind == "GROUP_CONV_2D"
               and len(layer.ops) > 1)
    assert {len(layer.attrs["fusions"]) for layer in ir.layers if layer.kind == "SHIFT_MAX"} == {1, 2}
    assert not {"MAXIMUM", "CONCATENATION", "STRIDED_SLICE", "SLICE"} & set(kinds)
    checked = [layer for layer in ir.layers if layer.kind in FUSED_KINDS] + [ir.layers[-1]]
    reference = with_outputs(model_bytes, [layer.outputs[0] for layer in checked])
    host = HostModel(generate_model_sources(model_bytes, tmp_path), extra_flags=("-DFLYNET_LAYER_CHECKSUMS",))
    for x in int8_images(images(3, "test")):
        y = host.invoke(x)
        assert np.array_equal(y, run_tflm(model_bytes, [x])[0])
        checksums = host.layer_checksums()
        expected = run_tflm(reference, [x])
        assert [checksums[layer.index] for layer in checked] == [layer_checksum(t) for t in expected]


def test_emulated_micronet_matches_tflm(chain, tmp_path):
    """The Cortex-M4 build (DSP paths: grouped 1x1 blocks, Shift-Max) in QEMU."""
    from test_codegen_arm import assert_emulated_matches_tflm

    _, model_bytes = chain
    assert_emulated_matches_tflm(model_bytes, "f446re", tmp_path)
