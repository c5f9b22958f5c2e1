"""`flynet-tiny fit`: the pre-build estimate against real links on both boards, the ELF reader,
the verdict for a model that cannot fit, and one-line errors for bad input."""

import json

import numpy as np
import pytest

from cli_helpers import run_cli
from flynet_tiny.build.from_tflite import build_from_tflite
from flynet_tiny.fit import ModelSpec, elf_usage, estimate_from_tflite, model_tflite_bytes
from flynet_tiny.targets import load_target
from flynet_tiny.tflite import TFLiteBuilder

BOARDS = ["f446re", "f746zg"]
SMALL = ModelSpec("flynet-h3-0.25", input_size=32, classes=10)


@pytest.fixture(scope="module")
def small_tflite(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "small.tflite"
    path.write_bytes(model_tflite_bytes(SMALL))
    return path


@pytest.fixture(scope="module", params=BOARDS)
def linked(request, small_tflite, tmp_path_factory):
    """The small model really built for a board with the project's firmware build."""
    target = load_target(request.param)
    out = tmp_path_factory.mktemp(f"build-{target.name}")
    return target, build_from_tflite(small_tflite, target, out)


def test_estimate_agrees_with_the_linked_firmware(linked, small_tflite, capsys):
    target, build = linked
    code, out, _ = run_cli(["fit", "--target", target.name, "--tflite", small_tflite, "--elf", build.elf, "--json"],
                           capsys)
    assert code == 0
    report = json.loads(out)
    real = elf_usage(build.elf, target)
    assert report["elf"]["regions"] == {n: {"used": u, "size": real.sizes[n]} for n, u in real.regions.items()}
    # ld's own numbers for the same link
    assert {n: u.used for n, u in build.region_usage.items()} == real.regions
    estimated = {r["name"]: r["used"] for r in report["regions"]}
    flash = next(m.name for m in target.memory if m.kind == "flash")
    assert abs(estimated[flash] - real.regions[flash]) <= 0.03 * real.regions[flash]
    for name, used in estimated.items():  # RAM regions too
        assert abs(used - real.regions[name]) <= 0.03 * real.regions[name]
    # The arena is the generated firmware's, byte for byte.
    header = (build.out_dir / "model" / "model.h").read_text()
    generated_arena = int(header.split("#define FLYNET_ARENA_BYTES ")[1].split()[0])
    arena_section = next(s for s in real.sections if s.name == ".fn_arena")
    assert report["arena_bytes"] == generated_arena == arena_section.size
    assert report["tflm_arena"]["total"] > 0
    assert report["stack"]["chain"][0].startswith("Reset_Handler")
    assert any(step.startswith("flynet_invoke") for step in report["stack"]["chain"])
    assert 0 < report["stack"]["deepest_bytes"] <= report["stack"]["reserved"]


def test_elf_alone_reports_sections_per_region(linked, capsys):
    target, build = linked
    code, out, _ = run_cli(["fit", "--target", target.name, "--elf", build.elf], capsys)
    assert code == 0
    assert ".fn_weights" in out and "flash by input file" in out


def test_table_and_png(small_tflite, tmp_path, capsys):
    png = tmp_path / "arena.png"
    code, out, _ = run_cli(["fit", "--target", "f446re", "--tflite", small_tflite, "--plot", png], capsys)
    assert code == 0
    assert "headroom" in out and "largest weights" in out and "fullest at layer" in out and "fits" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["arena.png"]


def test_flynet_h3_05_at_224_with_1000_classes_does_not_fit_the_f446re(capsys):
    code, out, err = run_cli(["fit", "flynet-h3-0.5", "--target", "f446re", "--input-size", 224, "--classes", 1000,
                              "--json"], capsys)
    assert code == 1
    report = json.loads(out)
    flash = next(r for r in report["regions"] if r["name"] == "FLASH")
    assert report["fits"] is False
    assert report["weight_bytes"] > flash["size"] and flash["headroom"] < 0
    assert any(p.startswith("FLASH needs") for p in report["problems"])
    assert "does not fit NUCLEO-F446RE" in err


def _float_model(path):
    b = TFLiteBuilder("float")
    x = b.add_tensor("x", [1, 4], "float32")
    w = b.add_tensor("w", [2, 4], "float32", data=np.ones((2, 4), np.float32))
    y = b.add_tensor("y", [1, 2], "float32")
    b.add_operator("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "NONE"})
    b.set_io([x], [y])
    path.write_bytes(b.build())
    return path


def test_bad_input_is_one_line_with_exit_2(linked, tmp_path, capsys):
    target, build = linked
    other = "f746zg" if target.name == "f446re" else "f446re"
    cases = [
        (["fit", "flynet-h3-0.5", "--target", "f999"], "choose one of f446re, f746zg"),
        (["fit", "--target", "f446re", "--tflite", tmp_path / "missing.tflite"], "does not exist"),
        (["fit", "--target", "f446re", "--tflite", _float_model(tmp_path / "float.tflite")], "int8"),
        (["fit", "--target", other, "--elf", build.elf], "FPU"),
        (["fit", "--target", "f446re", "--elf", _float_model(tmp_path / "not_an.elf")], "ELF"),
        (["fit", "--target", "f446re"], "nothing to check"),
        (["fit", "flynet-h9-0.5", "--target", "f446re"], "heads 9 out of range"),
    ]
    for args, message in cases:
        code, out, err = run_cli(args, capsys)
        assert code == 2, args
        errors = [line for line in err.splitlines() if line.startswith("error:")]  # progress lines may precede it
        assert len(errors) == 1 and message in errors[0] and err.endswith(errors[0] + "\n"), (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float.tflite", "not_an.elf"]
