"""benchmarks/vs_tflm.py's parsing and bookkeeping: the TFLM runner's --json report, our layers against the
TFLM ops they compute, the runner's output bytes against TFLM Python, and the inputs written for the runner.
Synthetic reports: the runner itself is a benchmark instrument the tests never run."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from tflm_baseline import parse_baseline_report  # noqa: E402
from vs_tflm import FOLDED, outputs_match, per_kind, write_runner_inputs  # noqa: E402

from flynet_tiny.errors import FlynetError  # noqa: E402


def report(inferences):
    return {"target": "f446re", "arena_used_bytes": 1234, "per_inference": inferences}


def inference(invoke, ops, outputs):
    return {"invoke_instructions": invoke, "ops_sum_instructions": sum(i for _, _, i in ops),
            "ops": [{"index": i, "op": name, "instructions": n} for i, name, n in ops], "outputs_hex": outputs}


def test_runner_report_gives_means_per_op_and_output_bytes():
    run = parse_baseline_report(report([
        inference(1000, [(0, "CONV_2D", 600), (1, "RESHAPE", 10), (2, "SOFTMAX", 300)], ["0a80ff", "01"]),
        inference(1010, [(0, "CONV_2D", 610), (1, "RESHAPE", 10), (2, "SOFTMAX", 301)], ["7f00", "02"]),
    ]))
    assert run.arena_used_bytes == 1234
    assert run.invoke == [1000, 1010] and run.mean_invoke == 1005
    assert run.op_names == {0: "CONV_2D", 1: "RESHAPE", 2: "SOFTMAX"}
    assert run.mean_op_instructions == {0: 605, 1: 10, 2: 300.5}
    assert run.outputs == [[b"\x0a\x80\xff", b"\x01"], [b"\x7f\x00", b"\x02"]]


@pytest.mark.parametrize("broken", [
    {"arena_used_bytes": 1, "per_inference": []},
    {"per_inference": [inference(1, [(0, "ADD", 1)], ["00"])]},
    {"arena_used_bytes": 1, "per_inference": [inference(1, [(0, "ADD", 1)], ["zz"])]},
    {"arena_used_bytes": 1, "per_inference": [inference(1, [(0, "ADD", 1)], ["00"]),
                                              inference(1, [(0, "MUL", 1)], ["00"])]},
], ids=["no inferences", "no arena", "bad hex", "node renamed"])
def test_a_report_that_is_not_the_runners_is_one_error(broken):
    with pytest.raises(FlynetError):
        parse_baseline_report(broken)


def layer(op, instructions, indices):
    return {"op": op, "instructions": instructions, "tflite_op_indices": indices}


def test_layers_are_compared_with_the_tflm_ops_they_compute():
    tflm = {0: 100.0, 1: 900.0, 2: 50.0, 3: 20.0, 4: 400.0, 5: 7.0}
    layers = [layer("CONV_2D", 300, [0, 1]),  # PAD folded into the conv: both TFLM ops are the layer's
              layer("CONV_2D", 100, [4]), layer("SOFTMAX", 30, [5]), layer("RESHAPE", 0, [2])]
    rows = {r.kind: r for r in per_kind(layers, tflm, {})}
    assert (rows["CONV_2D"].ours, rows["CONV_2D"].theirs, rows["CONV_2D"].layers) == (400, 1400, 2)
    assert rows["CONV_2D"].ratio == pytest.approx(400 / 1400)
    assert (rows["SOFTMAX"].ours, rows["SOFTMAX"].theirs) == (30, 7)
    assert (rows["RESHAPE"].ours, rows["RESHAPE"].theirs) == (0, 50)
    assert (rows[FOLDED].ours, rows[FOLDED].theirs, rows[FOLDED].layers) == (0, 20, 1)  # op 3: no layer of ours
    assert [r.kind for r in per_kind(layers, tflm, {})] == ["CONV_2D", "RESHAPE", FOLDED, "SOFTMAX"]
    assert sum(r.theirs for r in rows.values()) == sum(tflm.values())


def test_an_op_claimed_twice_or_never_run_is_an_error():
    with pytest.raises(ValueError, match="two layers"):
        per_kind([layer("ADD", 1, [0]), layer("ADD", 1, [0])], {0: 5.0}, {})
    with pytest.raises(ValueError, match="did not run"):
        per_kind([layer("ADD", 1, [3])], {0: 5.0}, {})


def test_runner_outputs_are_checked_byte_for_byte():
    expected = [[np.array([1, -2, 3], np.int8)], [np.array([0.5], np.float32)]]
    same = [[bytes([1, 0xFE, 3])], [np.float32(0.5).tobytes()]]
    assert outputs_match(expected, same) == []
    off = outputs_match(expected, [[bytes([1, 0xFE, 4])], [np.float32(0.25).tobytes()]])
    assert len(off) == 2 and "inference 0 output 0" in off[0] and "byte 2" in off[0]
    assert outputs_match(expected, same[:1]) == ["1 inferences reported, 2 expected"]
    assert "2 outputs, 1 expected" in outputs_match(expected[:1], [[b"\x01", b"\x02"]])[0]


def test_inputs_reach_the_runner_stacked_per_input_tensor(tmp_path):
    rng = np.random.default_rng(4)
    sets = [[rng.integers(-128, 128, (1, 2, 3), dtype=np.int8), rng.integers(0, 256, (1, 4), dtype=np.uint8),
             rng.uniform(-1, 1, 2).astype(np.float32)] for _ in range(3)]
    path = write_runner_inputs(sets, tmp_path)
    assert path.suffix == ".npz"
    with np.load(path) as arrays:
        stacked = [arrays[k] for k in arrays.files]
    assert [(a.shape, a.dtype) for a in stacked] == [((3, 1, 2, 3), np.int8), ((3, 1, 4), np.uint8), ((3, 2), np.float32)]
    assert all(np.array_equal(stacked[i][n], sets[n][i]) for n in range(3) for i in range(3))
    one = write_runner_inputs([[s[0]] for s in sets], tmp_path)
    assert one.suffix == ".npy" and np.array_equal(np.load(one)[1], sets[1][0])
