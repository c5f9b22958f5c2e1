"""ONNX export of the BN-folded float model and of the int8 fake-quant model as QDQ ONNX.

The QDQ contract (docs/quantization.md) in short: every int8 activation is
`X -> QuantizeLinear -> DequantizeLinear`, weights are int8 initializers behind a
DequantizeLinear (per output channel, axis 0, for Conv; per tensor for Gemm), biases are
int32 initializers behind a DequantizeLinear with scale = input scale x weight scale,
constant operands are int8 initializers behind a DequantizeLinear. All scales and zero
points are initializers. Batch size 1, opset 17.
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
import torch.fx as fx
from torch import nn

from ..errors import FlynetError
from ..quant.fold import trace
from ..quant.graph import freeze_shapes
from ..quant.model import QuantizedModel
from ..quant.modules import QuantWeighted
from ..reporting import atomic_write_bytes

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def export_float_onnx(folded_model: nn.Module, path: str | Path, example_input: torch.Tensor | None = None) -> onnx.ModelProto:
    """Write the (BN-folded) float model as ONNX; `example_input` defaults to the model config's input shape."""
    if example_input is None:
        example_input = _config_input(folded_model)
    module = folded_model if isinstance(folded_model, fx.GraphModule) else trace(folded_model)
    module = freeze_shapes(copy.deepcopy(module).eval(), example_input[:1])
    model = _to_onnx(module, example_input[:1])
    _check_and_save(model, path)
    return model


def export_qdq_onnx(qmodel: QuantizedModel, path: str | Path, example_input: torch.Tensor | None = None) -> onnx.ModelProto:
    """Write the fake-quant model as QDQ ONNX carrying exactly its int8 / int32 values and qparams."""
    if example_input is None:
        example_input = torch.zeros(qmodel.input_shape)
    qmodel = copy.deepcopy(qmodel).eval()
    qmodel.set_quantize()
    layers = dict(qmodel.weighted_layers())
    for layer in layers.values():
        layer.freeze_for_export()
    model = _to_onnx(freeze_shapes(qmodel.graph_module, example_input[:1]), example_input[:1])
    biases = {f"{name}.export_bias": layer for name, layer in layers.items()}
    model = _constants_to_initializers(model)
    model = _fold_constant_quantization(model)
    model = _integer_biases(model, biases)
    _check_and_save(model, path)
    return model


def _config_input(model: nn.Module) -> torch.Tensor:
    config = getattr(model, "config", None)
    size, channels = getattr(config, "input_size", None), getattr(config, "in_channels", None)
    if size is None or channels is None:
        raise FlynetError("the model has no config with input_size / in_channels; pass example_input")
    return torch.zeros(1, channels, size, size)


def _to_onnx(module: nn.Module, example_input: torch.Tensor) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (example_input,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue())


def _constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Constant nodes (the exporter's scalar scales / zero points) and Identity copies of
    initializers (the exporter's de-duplication of equal qparams) -> named initializers."""
    graph = model.graph
    values = _initializers(model)
    kept = []
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = numpy_helper.to_array(node.attribute[0].t)
            graph.initializer.append(numpy_helper.from_array(tensor, node.output[0]))
        elif node.op_type == "Identity" and node.input[0] in values:
            graph.initializer.append(numpy_helper.from_array(values[node.input[0]], node.output[0]))
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    return model


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _fold_constant_quantization(model: onnx.ModelProto) -> onnx.ModelProto:
    """QuantizeLinear(float initializer) -> an int8 initializer: weights and constants stored as integers.

    The integers are computed with the fake quantizer's own float32 arithmetic
    (round(x * (1 / scale)) + zero point), so they are the ones PyTorch simulated.
    """
    graph = model.graph
    values = _initializers(model)
    kept = []
    replaced = {}
    for node in graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] in values:
            data = values[node.input[0]].astype(np.float32)
            scale = values[node.input[1]].astype(np.float32)
            zero_point = values[node.input[2]].astype(np.int64) if len(node.input) > 2 else np.zeros_like(scale, np.int64)
            if scale.ndim == 1 and scale.size > 1:
                axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
                shape = [1] * data.ndim
                shape[axis] = -1
                scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
            q = np.rint(data * (np.float32(1.0) / scale)).astype(np.int64) + zero_point
            name = f"{node.input[0]}_quantized"
            graph.initializer.append(numpy_helper.from_array(np.clip(q, -128, 127).astype(np.int8), name))
            replaced[node.output[0]] = name
        else:
            kept.append(node)
    for node in kept:
        for i, value in enumerate(node.input):
            if value in replaced:
                node.input[i] = replaced[value]
    del graph.node[:]
    graph.node.extend(kept)
    return _drop_unused_initializers(model)


def _integer_biases(model: onnx.ModelProto, biases: dict[str, QuantWeighted]) -> onnx.ModelProto:
    """Float bias initializers of Conv / Gemm -> int32 initializer + DequantizeLinear (scale s_in * s_w)."""
    graph = model.graph
    nodes = []
    found = set()
    for node in graph.node:
        if node.op_type in ("Conv", "Gemm") and len(node.input) > 2 and node.input[2] in biases:
            layer = biases[node.input[2]]
            base = node.input[2].removesuffix(".export_bias")
            scale = layer.bias_scale().reshape(-1) if layer.per_channel else layer.bias_scale().reshape(())
            ints, scale_name, zp_name = f"{base}.bias_int32", f"{base}.bias_scale", f"{base}.bias_zero_point"
            graph.initializer.extend([
                numpy_helper.from_array(layer.int32_bias().numpy().astype(np.int32), ints),
                numpy_helper.from_array(scale.numpy().astype(np.float32), scale_name),
                numpy_helper.from_array(np.zeros(scale.shape, dtype=np.int32), zp_name),
            ])
            dequantized = f"{base}.bias_dequantized"
            nodes.append(helper.make_node("DequantizeLinear", [ints, scale_name, zp_name], [dequantized],
                                          name=f"{base}.bias_dequantize", axis=0))
            found.add(node.input[2])
            node.input[2] = dequantized
        nodes.append(node)
    missing = set(biases) - found
    if missing:
        raise FlynetError(f"ONNX export lost the bias of {sorted(missing)[0]}; the exporter renamed it, "
                          "report this as a flynet-tiny bug")
    del graph.node[:]
    graph.node.extend(nodes)
    return _drop_unused_initializers(model)


def _drop_unused_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    used = {value for node in model.graph.node for value in node.input}
    used |= {o.name for o in model.graph.output}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model


def _check_and_save(model: onnx.ModelProto, path: str | Path) -> None:
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise FlynetError(f"exported ONNX fails onnx.checker ({first}); report this as a flynet-tiny bug") from None
    atomic_write_bytes(path, model.SerializeToString())
