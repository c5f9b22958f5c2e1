"""The compatibility corpus (tests/corpus/): converter-made int8 models as users bring them.

The files were written by scripts/make_corpus.py under TensorFlow; these tests need no TensorFlow.
They check that the manifest describes the committed files (bytes, tensors, ops, as TF's own schema
read them) and that every model loads in our reader and loads and runs in TFLite Micro.
"""

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from flynet_tiny.tflite import read_tflite
from flynet_tiny.tflite.interpreters import run_tflm

CORPUS = Path(__file__).parent / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
MODELS = MANIFEST["models"]
EDGE_TYPES = {"int8": ("int8", "int8"), "u8f32": ("uint8", "float32")}


def test_manifest_lists_exactly_the_files():
    files = sorted(p.name for p in CORPUS.glob("*.tflite"))
    assert files == sorted(entry["file"] for entry in MODELS.values())
    assert all(entry["file"] == f"{name}.tflite" for name, entry in MODELS.items())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_file_bytes_match_manifest(name):
    entry = MODELS[name]
    data = (CORPUS / entry["file"]).read_bytes()
    assert len(data) == entry["size_bytes"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert data[4:8] == b"TFL3"


def test_every_image_architecture_has_both_edge_variants():
    by_arch: dict[str, set[str]] = {}
    for name, entry in MODELS.items():
        by_arch.setdefault(entry["architecture"], set()).add(name.removeprefix(entry["architecture"] + "_"))
    for arch, suffixes in by_arch.items():
        assert suffixes in ({"int8"}, {"int8", "u8f32"}), (arch, suffixes)
    assert sum(len(s) == 2 for s in by_arch.values()) >= 10


def test_total_size_stays_small():
    """The corpus is committed: a few MB (4.19 MB when made), not a model zoo."""
    assert sum(entry["size_bytes"] for entry in MODELS.values()) < 4_500_000


def _random_inputs(graph, seed=0):
    rng = np.random.default_rng(seed)
    inputs = []
    for index in graph.inputs:
        tensor = graph.tensors[index]
        info = np.iinfo(tensor.dtype)
        inputs.append(rng.integers(info.min, info.max, size=tensor.shape, endpoint=True).astype(tensor.dtype))
    return inputs


@pytest.mark.parametrize("name", sorted(MODELS))
def test_reader_sees_what_the_manifest_says(name):
    entry = MODELS[name]
    graph = read_tflite((CORPUS / entry["file"]).read_bytes())
    assert graph.op_counts() == entry["ops"]
    assert len(graph.operators) == entry["operators"]
    for indices, described in ((graph.inputs, entry["inputs"]), (graph.outputs, entry["outputs"])):
        assert len(indices) == len(described)
        for index, expected in zip(indices, described):
            tensor = graph.tensors[index]
            assert (tensor.name, tensor.dtype, list(tensor.shape)) == (expected["name"], expected["dtype"], expected["shape"])
            if "scale" in expected:
                np.testing.assert_array_equal(tensor.scale, np.float32(expected["scale"]))
                np.testing.assert_array_equal(tensor.zero_point, expected["zero_point"])
            else:
                assert tensor.scale is None
    in_type, out_type = EDGE_TYPES[name.rsplit("_", 1)[1]]
    assert {graph.tensors[i].dtype for i in graph.inputs} == {in_type}
    assert {graph.tensors[i].dtype for i in graph.outputs} == {out_type}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tflite_micro_runs_it(name):
    entry = MODELS[name]
    data = (CORPUS / entry["file"]).read_bytes()
    graph = read_tflite(data)
    outputs = run_tflm(data, _random_inputs(graph))
    assert [(str(o.dtype), list(o.shape)) for o in outputs] == [(e["dtype"], e["shape"]) for e in entry["outputs"]]
    for output in outputs:
        assert np.all(np.isfinite(output))


def test_corpus_covers_the_ops_it_was_made_for():
    """What issue 13 asks the corpus to contain, counted over all models."""
    ops = Counter()
    for entry in MODELS.values():
        ops.update(entry["ops"])
    wanted = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
              "QUANTIZE", "DEQUANTIZE", "SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE", "MINIMUM", "MAXIMUM",
              "RELU", "RELU6", "LEAKY_RELU", "PRELU", "TANH", "LOGISTIC", "SUB", "MUL", "ADD", "TRANSPOSE",
              "CONCATENATION", "SPLIT", "SPLIT_V", "PAD", "PADV2", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
              "TRANSPOSE_CONV", "SOFTMAX"}
    assert wanted <= set(ops), sorted(wanted - set(ops))
    assert any(len(entry["inputs"]) == 2 and len(entry["outputs"]) == 2 for entry in MODELS.values())
    assert any("(global)" in pool and pool.startswith("AVERAGE_POOL_2D") for e in MODELS.values() for pool in e["pools"])


def test_corpus_covers_the_parameters_it_was_made_for():
    """Dilated convs, stride-3/4 convs and pools, a windowed and a global average pool (read by our reader)."""
    seen = set()
    for entry in MODELS.values():
        graph = read_tflite((CORPUS / entry["file"]).read_bytes())
        for op in graph.operators:
            o = op.options
            if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                if max(o["dilation_h_factor"], o["dilation_w_factor"]) > 1:
                    seen.add(f"{op.opcode} dilated")
                if o["dilation_h_factor"] != o["dilation_w_factor"]:
                    seen.add(f"{op.opcode} unequal dilation")
            if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
                seen.update(f"{op.opcode} stride {s}" for s in (o["stride_h"], o["stride_w"]) if s in (3, 4))
            if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                height, width = graph.tensors[op.inputs[1]].shape[1:3]
                if height != width:
                    seen.add(f"{op.opcode} non-square")
    wanted = {"CONV_2D dilated", "DEPTHWISE_CONV_2D dilated", "DEPTHWISE_CONV_2D unequal dilation",
              "CONV_2D stride 3", "CONV_2D stride 4", "DEPTHWISE_CONV_2D stride 3",
              "MAX_POOL_2D stride 3", "AVERAGE_POOL_2D stride 3", "AVERAGE_POOL_2D stride 4",
              "CONV_2D non-square", "DEPTHWISE_CONV_2D non-square"}
    assert wanted <= seen, sorted(wanted - seen)
