"""Generation-time constant folding (codegen/fold.py) and the one-line list of unsupported ops.

Keras's Flatten / Reshape convert to SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE on int32 tensors: folded,
the RESHAPE is a view and the generated C computes TFLM's bytes. Models are built here with TFLiteBuilder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen_models import ModelMaker
from flynet_tiny.codegen.fold import fold_constants
from flynet_tiny.codegen.generate import build_ir, generate_model_sources
from flynet_tiny.codegen.graph import lower
from flynet_tiny.codegen.host_model import HostModel
from flynet_tiny.data.model_inputs import random_inputs
from flynet_tiny.errors import FlynetError
from flynet_tiny.tflite import TFLiteBuilder, read_tflite
from flynet_tiny.tflite.interpreters import run_tflm_batch

CORPUS = Path(__file__).parent / "corpus"


def keras_flatten_model(seed: int = 0) -> bytes:
    """x [1,6,4,2] -> Flatten as Keras converts it (SHAPE -> STRIDED_SLICE (shrink) -> PACK [batch, 48] ->
    RESHAPE) -> FULLY_CONNECTED 5."""
    m = ModelMaker(seed, "keras flatten")
    x = m.input((1, 6, 4, 2))
    b = m.b
    shape = b.add_tensor("flatten/Shape", [4], "int32")
    b.add_operator("SHAPE", [x], [shape], {"out_type": 2})  # TensorType INT32
    zero, one = b.add_constant("begin", np.array([0], np.int32)), b.add_constant("end", np.array([1], np.int32))
    batch = b.add_tensor("flatten/strided_slice", [], "int32")
    b.add_operator("STRIDED_SLICE", [shape, zero, one, one], [batch], {"shrink_axis_mask": 1})
    features = b.add_constant("flatten/features", np.array(48, np.int32))
    new_shape = b.add_tensor("flatten/Reshape/shape", [2], "int32")
    b.add_operator("PACK", [batch, features], [new_shape], {"values_count": 2, "axis": 0})
    flat = m.same_scale(x, (1, 48), "flatten/Reshape")
    b.add_operator("RESHAPE", [x, new_shape], [flat])
    return m.build(x, m.fully_connected(flat, 5))


def shape_arithmetic_model(seed: int = 1) -> bytes:
    """The reshape's shape from int32 arithmetic on SHAPE: [shape[0:1], shape[1:2] * 8], joined by
    CONCATENATION; then FULLY_CONNECTED."""
    m = ModelMaker(seed, "shape arithmetic")
    x = m.input((1, 6, 4, 2))
    b = m.b
    shape = b.add_tensor("Shape", [4], "int32")
    b.add_operator("SHAPE", [x], [shape], {"out_type": 2})
    zero, one = b.add_constant("zero", np.array([0], np.int32)), b.add_constant("one", np.array([1], np.int32))
    two = b.add_constant("two", np.array([2], np.int32))
    batch = b.add_tensor("batch", [1], "int32")
    b.add_operator("STRIDED_SLICE", [shape, zero, one, one], [batch])
    height = b.add_tensor("height", [1], "int32")
    b.add_operator("STRIDED_SLICE", [shape, one, two, one], [height])
    features = b.add_tensor("features", [1], "int32")
    b.add_operator("MUL", [height, b.add_constant("width_x_channels", np.array([8], np.int32))], [features])
    new_shape = b.add_tensor("new_shape", [2], "int32")
    b.add_operator("CONCATENATION", [batch, features], [new_shape], {"axis": 0})
    flat = m.same_scale(x, (1, 48), "Reshape")
    b.add_operator("RESHAPE", [x, new_shape], [flat])
    return m.build(x, m.fully_connected(flat, 7))


@pytest.mark.parametrize("make", [keras_flatten_model, shape_arithmetic_model])
def test_shape_chains_fold_into_a_view_and_match_tflm(tmp_path, make):
    model = make()
    ir = build_ir(model)
    assert [layer.kind for layer in ir.layers] == ["RESHAPE", "FULLY_CONNECTED"]
    assert ir.layers[0].inputs == [ir.inputs[0]]  # the shape operand is a constant now
    generated = generate_model_sources(model, tmp_path)
    assert "a view: no copy" in (tmp_path / "model.c").read_text()
    inputs = random_inputs(generated.input_shape, 6, seed=3)
    expected = run_tflm_batch(model, [[x] for x in inputs])
    host = HostModel(generated)
    assert all(host.invoke(x).tobytes() == want[0].tobytes() for x, want in zip(inputs, expected))


def test_gather_and_reductions_of_shapes_fold():
    """Keras's Dense on a 4-D tensor: GATHER of SHAPE, then REDUCE_PROD (TFLM lacks the latter; folded, no
    kernel is needed). [1,6,4,2]: gathering dims 3 and 1 gives [2, 6], their product 12."""
    b = TFLiteBuilder("gather")
    x = b.add_tensor("x", [1, 6, 4, 2], "int8", scale=0.1, zero_point=0)
    shape = b.add_tensor("shape", [4], "int32")
    b.add_operator("SHAPE", [x], [shape], {"out_type": 2})
    picked = b.add_tensor("picked", [2], "int32")
    b.add_operator("GATHER", [shape, b.add_constant("indices", np.array([3, 1], np.int32))], [picked], {"axis": 0})
    product = b.add_tensor("product", [], "int32")
    b.add_operator("REDUCE_PROD", [picked, b.add_constant("axes", np.array([0], np.int32))], [product])
    y = b.add_tensor("y", [1, 6, 4, 2], "int8", scale=0.1, zero_point=0)
    b.add_operator("ADD", [x, x], [y])
    b.set_io([x], [y])
    graph = read_tflite(b.build())
    ir = fold_constants(lower(graph))
    assert [layer.kind for layer in ir.layers] == ["ADD"]
    assert graph.tensors[picked].data.tolist() == [2, 6] and graph.tensors[product].data.tolist() == 12


def test_transpose_conv_output_shape_operand_becomes_a_constant():
    """The corpus segmenter computes TRANSPOSE_CONV's output shape with SHAPE -> STRIDED_SLICE -> PACK."""
    graph = read_tflite((CORPUS / "segmentation_head_int8.tflite").read_bytes())
    ir = fold_constants(lower(graph))
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & {layer.kind for layer in ir.layers}
    (transpose_conv,) = [layer for layer in ir.layers if layer.kind == "TRANSPOSE_CONV"]
    shape_operand = graph.tensors[transpose_conv.op.inputs[0]]
    assert shape_operand.data.tolist() == list(graph.tensors[transpose_conv.outputs[0]].shape) == [1, 16, 16, 32]
    assert transpose_conv.inputs == [transpose_conv.op.inputs[2]]  # only the activation is read at run time


def test_every_keras_reshape_of_the_corpus_folds():
    for name in ("micro_speech_int8", "mlperf_resnet8_int8", "strided_pools_u8f32", "tensor_ops_int8"):
        ir = fold_constants(lower(read_tflite((CORPUS / f"{name}.tflite").read_bytes())))
        assert not {"SHAPE", "PACK"} & {layer.kind for layer in ir.layers}, name
        assert all(ir.tensor(t).dtype != "int32" for layer in ir.layers for t in layer.inputs), name


def test_a_layer_writing_a_model_output_is_not_folded():
    b = TFLiteBuilder("shape out")
    x = b.add_tensor("x", [1, 3, 2], "int8", scale=0.1, zero_point=0)
    shape = b.add_tensor("shape", [3], "int32")
    b.add_operator("SHAPE", [x], [shape], {"out_type": 2})
    b.set_io([x], [shape])
    ir = fold_constants(lower(read_tflite(b.build())))
    assert [layer.kind for layer in ir.layers] == ["SHAPE"]
    with pytest.raises(FlynetError, match=r"does not support 1 op\(s\) of this model: SHAPE \(layer #0 'shape'\)"):
        build_ir(b.build())


def test_quantized_constants_fold_only_with_the_output_quantization():
    """A RESHAPE of an int8 constant folds when the quantization carries over; one that rescales does not."""
    b = TFLiteBuilder("constant reshape")
    values = np.arange(-3, 3, dtype=np.int8).reshape(2, 3)
    c = b.add_tensor("c", [2, 3], "int8", data=values, scale=0.5, zero_point=1)
    same = b.add_tensor("same", [6], "int8", scale=0.5, zero_point=1)
    other = b.add_tensor("other", [6], "int8", scale=0.25, zero_point=1)
    shape = b.add_constant("shape", np.array([6], np.int32))
    b.add_operator("RESHAPE", [c, shape], [same])
    b.add_operator("RESHAPE", [c, shape], [other])
    x = b.add_tensor("x", [6], "int8", scale=0.5, zero_point=1)
    y = b.add_tensor("y", [6], "int8", scale=0.5, zero_point=1)
    b.add_operator("ADD", [x, same], [y])
    z = b.add_tensor("z", [6], "int8", scale=0.25, zero_point=1)
    b.add_operator("ADD", [x, other], [z])
    b.set_io([x], [y, z])
    graph = read_tflite(b.build())
    ir = fold_constants(lower(graph))
    assert [layer.kind for layer in ir.layers] == ["RESHAPE", "ADD", "ADD"]
    assert graph.tensors[same].data.tolist() == values.reshape(-1).tolist()
    assert graph.tensors[other].data is None


def unsupported_ops_model() -> bytes:
    """SVDF (int8 in, int16 state), a unidirectional LSTM and a custom op, each in its own layer."""
    b = TFLiteBuilder("later ops")
    x = b.add_tensor("x", [1, 8], "int8", scale=0.1, zero_point=0)
    feature = b.add_tensor("svdf/feature", [4, 8], "int8", data=np.ones((4, 8)), scale=0.01, zero_point=0)
    time = b.add_tensor("svdf/time", [4, 3], "int16", data=np.ones((4, 3)), scale=0.001, zero_point=0)
    state = b.add_tensor("svdf/state", [1, 12], "int16", scale=0.001, zero_point=0)
    svdf = b.add_tensor("svdf_out", [1, 4], "int8", scale=0.1, zero_point=0)
    b.add_operator("SVDF", [x, feature, time, -1, state], [svdf], {"rank": 1})
    seq = b.add_tensor("seq", [1, 1, 4], "int8", scale=0.1, zero_point=0)
    b.add_operator("RESHAPE", [svdf, b.add_constant("shape", np.array([1, 1, 4], np.int32))], [seq])
    lstm = b.add_tensor("lstm_out", [1, 1, 4], "int8", scale=0.1, zero_point=0)
    b.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", [seq], [lstm], {"time_major": False})
    out = b.add_tensor("custom_out", [1, 1, 4], "int8", scale=0.1, zero_point=0)
    b.add_operator("CUSTOM", [lstm], [out], custom_code="MyPostProcess")
    b.set_io([x], [out])
    return b.build()


def test_unsupported_ops_are_named_with_their_layers_on_one_line(tmp_path):
    with pytest.raises(FlynetError) as caught:
        generate_model_sources(unsupported_ops_model(), tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("the code generator does not support 3 op(s) of this model: "
                              "SVDF (layer #0 'svdf_out'); UNIDIRECTIONAL_SEQUENCE_LSTM (layer #2 'lstm_out'); "
                              "CUSTOM:MyPostProcess (layer #3 'custom_out'). Supported: ")
    assert "int16" not in message
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_int16_activations_are_named_as_such(tmp_path):
    b = TFLiteBuilder("int16 add")
    x = b.add_tensor("x", [1, 4], "int16", scale=0.001, zero_point=0)
    y = b.add_tensor("y", [1, 4], "int16", scale=0.002, zero_point=0)
    b.add_operator("ADD", [x, x], [y])
    b.set_io([x], [y])
    with pytest.raises(FlynetError, match=r"^ADD \(layer #0 'y'\): tensor 'x' is int16; this op takes int8 here "
                                          r"\(int16 activations are not supported\)"):
        generate_model_sources(b.build(), tmp_path)
