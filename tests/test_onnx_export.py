"""ONNX export: the folded float model and the QDQ model, checked by onnx and run by onnxruntime."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from flynet_tiny.convert.onnx_export import export_float_onnx, export_qdq_onnx
from flynet_tiny.quant import fold_batchnorm, quantize_model
from quant_models import TinyFlyNet, fashion_images, randomize_batchnorm, registry_flynet


def run_onnx(path, images: torch.Tensor) -> np.ndarray:
    options = ort.SessionOptions()
    # No QDQ fusion: onnxruntime then computes DequantizeLinear -> float op -> QuantizeLinear,
    # the arithmetic the PyTorch fake quantizers simulate.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": images[i:i + 1].numpy()})[0] for i in range(len(images))])


@pytest.fixture(scope="module", params=["tiny-flynet", "flynet-h3-0.25"])
def quantized(request, tmp_path_factory):
    if request.param == "tiny-flynet":
        model, size = randomize_batchnorm(TinyFlyNet(), seed=6), 28
    else:
        model, size = registry_flynet(), 32
    calibration = fashion_images(64, "train", size)
    qmodel = quantize_model(model, [calibration[:32], calibration[32:]], num_samples=64, progress=False)
    path = tmp_path_factory.mktemp(request.param) / "model_qdq.onnx"
    export_qdq_onnx(qmodel, path)
    return model, qmodel, path, size


def test_qdq_onnx_passes_the_full_checker_with_shape_inference(quantized):
    _, _, path, _ = quantized
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert [d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim] == [1, 10]
    assert {n.op_type for n in model.graph.node}.isdisjoint({"Shape", "Gather", "Constant", "Identity"})


def test_onnxruntime_equals_pytorch_fake_quant_exactly(quantized):
    _, qmodel, path, size = quantized
    images = fashion_images(16, "test", size)
    with torch.no_grad():
        expected = qmodel(images).numpy()
    np.testing.assert_array_equal(run_onnx(path, images), expected)


def test_qdq_onnx_carries_the_quantizer_values(quantized):
    _, qmodel, path, _ = quantized
    model = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    dequantize = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}
    layers = dict(qmodel.weighted_layers())
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    assert len(convs) == len(layers)
    for name, layer in layers.items():
        weight_dq = dequantize[next(n for n in convs if n.input[2] == f"{name}.bias_dequantized").input[1]]
        assert init[weight_dq.input[0]].dtype == np.int8
        np.testing.assert_array_equal(init[weight_dq.input[0]], layer.int8_weight().numpy())
        np.testing.assert_array_equal(init[weight_dq.input[1]], layer.weight_qparams()[0].numpy())
        assert np.abs(init[weight_dq.input[0]].astype(int)).max() <= 127
        assert not np.any(init[weight_dq.input[2]])
        np.testing.assert_array_equal(init[f"{name}.bias_int32"], layer.int32_bias().numpy())
        np.testing.assert_array_equal(init[f"{name}.bias_scale"], layer.bias_scale().reshape(init[f"{name}.bias_scale"].shape).numpy())
    activation_params = {(float(m.scale), int(m.zero_point)) for _, m in qmodel.activation_quantizers()}
    quantize_params = {(float(init[n.input[1]]), int(init[n.input[2]])) for n in model.graph.node
                       if n.op_type == "QuantizeLinear"}
    assert quantize_params == activation_params


def test_float_onnx_of_the_folded_model_matches_pytorch(quantized, tmp_path):
    model, _, _, size = quantized
    folded = fold_batchnorm(model)
    path = tmp_path / "model_float.onnx"
    export_float_onnx(folded, path, torch.zeros(1, 1, size, size))
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    images = fashion_images(8, "test", size)
    with torch.no_grad():
        expected = folded(images).numpy()
    np.testing.assert_allclose(run_onnx(path, images), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
