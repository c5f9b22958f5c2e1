"""`flynet-tiny generate`: files, table, JSON, and one-line errors with nothing written."""

import json

from cli_helpers import run_cli
from codegen_models import conv_chain_model


def test_generate_writes_sources_and_reports_layers(tmp_path, capsys):
    model = tmp_path / "model_int8.tflite"
    model.write_bytes(conv_chain_model())
    code, out, _ = run_cli(["generate", model, "--out", tmp_path / "c", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    plan = json.loads((tmp_path / "c" / "memory_plan.json").read_text())
    assert report["arena_bytes"] == plan["arena_bytes"]
    assert [l["kind"] for l in report["layers"]][:3] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == \
        ["memory_plan.json", "model.c", "model.h", "model_weights.c", "model_weights.h"]
    code, out, _ = run_cli(["generate", model, "--out", tmp_path / "c", "--plan"], capsys)
    assert code == 0 and "FULLY_CONNECTED" in out and f"arena: {plan['arena_bytes']:,} bytes" in out


def test_generate_refuses_bad_input_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    code, _, err = run_cli(["generate", bad, "--out", tmp_path / "c"], capsys)
    assert code == 2 and err.strip().splitlines()[-1].startswith("error: not a TFLite flatbuffer")
    code, _, err = run_cli(["generate", tmp_path / "missing.tflite", "--out", tmp_path / "c"], capsys)
    assert code == 2 and "does not exist" in err
    good = tmp_path / "good.tflite"
    good.write_bytes(conv_chain_model())
    code, _, err = run_cli(["generate", good, "--out", tmp_path / "c", "--name", "9lives"], capsys)
    assert code == 2 and "is not a C identifier" in err
    assert not (tmp_path / "c").exists()
