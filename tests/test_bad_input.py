"""Bad input never crashes, never runs code, never leaves debris (issue 15).

Every case runs the real CLI (its entry point in this process where that is enough, its own
process where signals, limits or mounts matter) and checks a clean failure with
`assert_clean_failure`: the exit code; one line on stderr, `error: ...`, with no traceback (only
failures found after work started, at link time, in QEMU or by a signal, follow the command's
progress lines); nothing created or changed in the working folder or the output's parents; no
child process alive afterwards.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bad_input_helpers import (alive_children, assert_clean_failure, buffer_out_of_range, cli_command, cli_env,
                               custom_op, edited, opcode_out_of_range, run_process, set_subreaper,
                               short_weights, small_model, snapshot, tensor_out_of_range, two_input_model,
                               zero_size_fc)
from cli_helpers import CliResult, run_in
from codegen_models import ModelMaker
from flynet_tiny.build.make import build_firmware
from flynet_tiny.errors import FlynetError
from flynet_tiny.fit.calibration import run_compile
from flynet_tiny.processes import run_tool
from flynet_tiny.resources import BUNDLED_SAMPLES
from flynet_tiny.targets import load_target

PROGRAMS = Path(__file__).parent / "sim_programs"


@pytest.fixture(scope="module", autouse=True)
def reaper():
    """Orphans of anything the CLI starts come back to this process, where alive_children() sees them."""
    set_subreaper(True)
    yield
    set_subreaper(False)


@pytest.fixture
def work(tmp_path):
    """The working folder the CLI runs in; inputs are put here before the snapshot is taken."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# -- checkpoints and quantized files never run code --------------------------------------------------

class WritesAFile:
    """What a crafted checkpoint does: unpickling it calls a function of the file's choosing."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def malicious_files(folder: Path, marker: Path) -> dict[str, Path]:
    """The payload in torch's zip format (inside a checkpoint-looking dict) and as a bare pickle."""
    zipped, bare = folder / "evil.pt", folder / "evil-bare.pt"
    torch.save({"format": "flynet-tiny-checkpoint/1", "state_dict": {}, "payload": WritesAFile(marker)}, zipped)
    bare.write_bytes(pickle.dumps(WritesAFile(marker)))
    return {"zip": zipped, "bare": bare}


@pytest.mark.parametrize("kind", ["zip", "bare"])
@pytest.mark.parametrize("command", [
    ["evaluate", "{evil}", "--data", BUNDLED_SAMPLES],
    ["quantize", "{evil}", "--data", BUNDLED_SAMPLES, "--out", "q.pt"],
    ["export", "--checkpoint", "{evil}", "--out", "exp"],
    ["train", "flynet-h3-0.25", "--data", BUNDLED_SAMPLES, "--qat", "--from", "{evil}", "--out", "run"],
])
def test_a_malicious_pickle_is_refused_and_never_runs(work, tmp_path, kind, command):
    marker = tmp_path / "pwned"
    evil = malicious_files(work, marker)[kind]
    before = snapshot(work)
    result = run_in([str(a).replace("{evil}", str(evil)) for a in command], work)
    line = assert_clean_failure(result, 2, before, work)
    assert "never loads" in line and ("posix.system" in line or kind == "bare")
    assert not marker.exists()  # the payload did not run


def test_a_quantized_header_around_a_non_model(work):
    weights_only = work / "header-only.pt"
    torch.save({"format": "flynet-tiny-quantized/2", "model": "not a model", "info": {}}, weights_only)
    wrong_tensors = work / "wrong-tensors.pt"
    torch.save({"format": "flynet-tiny-quantized/2", "info": {},
                "model_config": {"name": "flynet-h3-0.25", "width": 0.25, "heads": 3, "num_classes": 10,
                                 "in_channels": 1, "input_size": 32, "stem_stride": 1, "eca_gate": "softmax"},
                "temperature": 1.0, "method": "minmax", "input_qparams": [0.0078125, 0], "input_shape": [1, 1, 32, 32],
                "state_dict": {"weight": torch.zeros(3)}}, wrong_tensors)
    module = work / "pickled-module.pt"
    torch.save(torch.nn.Linear(2, 2), module)
    before = snapshot(work)
    expected = {weights_only: "lacks its model config", wrong_tensors: "does not rebuild into its model",
                module: "pickled Python object (torch.nn.modules.linear.Linear)"}
    for path, message in expected.items():
        result = run_in(["evaluate", path, "--data", BUNDLED_SAMPLES], work)
        assert message in assert_clean_failure(result, 2, before, work)


# -- a corrupt or unsupported .tflite is one line, in generate and in export --tflite --------------

TFLITE_CASES = {
    "opcode index out of range": (lambda: edited(small_model(), opcode_out_of_range), "names opcode entry 7 of 3"),
    "buffer index out of range": (lambda: edited(small_model(), buffer_out_of_range), "names buffer 96"),
    "tensor index out of range": (lambda: edited(small_model(), tensor_out_of_range), "input is tensor 49"),
    "weights shorter than their shape": (lambda: edited(small_model(), short_weights), "needs 36 bytes, its buffer holds 31"),
    "zero-size fully connected": (zero_size_fc, "holds no elements"),
    "not a flatbuffer": (lambda: b"GIF89a, not a model", "not a TFLite flatbuffer"),
    "garbage after the identifier": (lambda: b"\xff\xff\x00\x00TFL3" + b"\xff" * 12, "corrupt TFLite flatbuffer"),
}


@pytest.mark.parametrize("case", TFLITE_CASES)
@pytest.mark.parametrize("command", [["generate", "bad.tflite", "--out", "gen"],
                                     ["export", "--tflite", "bad.tflite", "--out", "exp"]])
def test_a_corrupt_tflite_is_one_line(work, case, command):
    make, message = TFLITE_CASES[case]
    (work / "bad.tflite").write_bytes(make())
    before = snapshot(work)
    assert message in assert_clean_failure(run_in(command, work), 2, before, work)


def test_a_custom_op_is_named_in_export_and_generate(work):
    (work / "custom.tflite").write_bytes(edited(small_model(), custom_op))
    before = snapshot(work)
    exported = assert_clean_failure(run_in(["export", "--tflite", "custom.tflite", "--out", "exp"], work), 2,
                                    before, work)
    assert "custom ops (MyOp)" in exported
    generated = assert_clean_failure(run_in(["generate", "custom.tflite", "--out", "gen"], work), 2, before, work)
    assert "does not support 1 op(s) of this model: CUSTOM:MyOp (layer #0" in generated


def test_a_two_input_model_is_verified_on_every_input(work):
    """Feeding only the first input left TFLM reading whatever was in its arena: the step count changed
    from run to run. Every input is fed now, so both runtimes agree, the same way every time (the code
    generator takes several inputs too: tests/test_codegen_io.py)."""
    (work / "two.tflite").write_bytes(two_input_model())
    reports = []
    for out in ("exp1", "exp2"):
        result = run_in(["export", "--tflite", "two.tflite", "--out", out, "--verify-samples", 50], work)
        assert result.returncode == 0, result.stderr
        reports.append(json.loads((work / out / "report.json").read_text())["verification"])
    assert reports[0]["pairs"] == reports[1]["pairs"] and reports[0]["pairs"][0]["max_int8_diff"] == 0


# -- out-of-range values fail before any work, naming the flag ------------------------------------

@pytest.mark.parametrize("args, message", [
    (["train", "flynet-h3-0.25", "--data", "data", "--epochs", 0], "--epochs must be at least 1, got 0"),
    (["train", "flynet-h3-0.25", "--data", "data", "--lr", 0], "--lr must be positive, got 0"),
    (["train", "flynet-h3-0.25", "--data", "data", "--lr", "nan"], "--lr must be positive, got nan"),
    (["train", "flynet-h3-0.25", "--data", "data", "--batch-size", 0], "--batch-size must be at least 1, got 0"),
    (["train", "flynet-h3-0.25", "--data", "data", "--seed", -1], "--seed must be at least 0, got -1"),
    (["train", "flynet-h3-0.25", "--data", "data", "--workers", 0], "--workers must be at least 1, got 0"),
    (["quantize", "ckpt.pt", "--data", "data", "--calib-samples", 0], "--calib-samples must be at least 1, got 0"),
    (["export", "--verify-samples", 0], "--verify-samples must be at least 1, got 0"),
    (["export", "--min-top1", 1.5], "--min-top1 must be at most 1, got 1.5"),
    (["export", "--min-cosine", "inf"], "--min-cosine must be a finite number, got inf"),
    (["verify", "exp", "--data", "data", "--max-steps", -1], "--max-steps must be at least 0, got -1"),
    (["build", "--target", "f446re", "--inputs", 0], "--inputs must be at least 1, got 0"),
    (["bench", "--target", "f446re", "--runs", 0], "--runs must be at least 1, got 0"),
    (["bench", "--target", "f446re", "--timeout", 0], "--timeout must be above 0, got 0"),
    (["emulate", "fw.elf", "--target", "f446re", "--timeout", "nan"], "--timeout must be a finite number, got nan"),
    (["fit", "--target", "f446re", "--suggest", "--margin", 1.5], "--margin must be below 1, got 1.5"),
    (["profile", "flynet-h3-0.5", "--classes", 1], "--classes must be at least 2, got 1"),
])
def test_an_out_of_range_value_is_refused_before_any_work(work, args, message):
    before = snapshot(work)
    assert message in assert_clean_failure(run_in(args, work), 2, before, work)
    assert not (work / "runs").exists()


# -- emulate checks the ELF before QEMU, and names the flag that fixes it ------------------------------

@pytest.fixture(scope="module")
def elves(tmp_path_factory):
    folder = tmp_path_factory.mktemp("elves")
    program = [PROGRAMS / "output_main.c"]
    return {
        "f446re-emulation": build_firmware(folder / "f446re-emu", load_target("f446re"), program, emulation=True).elf,
        "f746zg-real": build_firmware(folder / "f746zg-real", load_target("f746zg"), program).elf,
        "f446re-real": build_firmware(folder / "f446re-real", load_target("f446re"), program).elf,
    }


@pytest.mark.parametrize("elf, target, message", [
    ("f446re-emulation", "f746zg", "is an emulation build for NUCLEO-F446RE (QEMU netduinoplus2), not for "
                                   "NUCLEO-F746ZG: pass --target f446re"),
    ("f746zg-real", "f746zg", "is a real-board build for NUCLEO-F746ZG, which QEMU cannot run (it has no semihosting "
                              "console): build the emulation one with `flynet-tiny build --target f746zg --emulation`"),
    # same flash and SRAM addresses as its emulation build: only the board support tells them apart
    ("f446re-real", "f446re", "is a real-board build for NUCLEO-F446RE, which QEMU cannot run"),
    ("host program", "f446re", "is not a 32-bit little-endian ELF, so not Cortex-M firmware"),
    ("text", "f446re", "is not an ELF file"),
])
def test_emulate_refuses_a_wrong_elf_before_qemu_starts(work, elves, elf, target, message):
    if elf == "host program":
        path = Path(sys.executable).resolve()
    elif elf == "text":
        path = work / "firmware.elf"
        path.write_text("not firmware")
    else:
        path = elves[elf]
    before = snapshot(work)
    start = time.monotonic()
    line = assert_clean_failure(run_in(["emulate", path, "--target", target], work), 2, before, work)
    assert message in line and "emulation=True" not in line and "flynet_tiny." not in line
    assert time.monotonic() - start < 20  # refused at once, not at the 60 s timeout


# -- a model evaluated on data of another kind -----------------------------------------------------

def test_evaluating_on_data_of_another_kind_is_refused(work):
    """The bundled Fashion-MNIST model (1 channel, stored 28x28) on colour 32x32 images of 10 classes: the
    loader would convert them to fit and the model would score near chance without a word."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in range(10):
            folder = work / "colour" / split / f"class{label}"
            folder.mkdir(parents=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / "0.png")
    before = snapshot(work)
    line = assert_clean_failure(run_in(["evaluate", "--data", "colour"], work), 2, before, work)
    assert "holds 3-channel images but the model was trained on 1-channel ones" in line


# -- failures leave nothing behind -------------------------------------------------------------------

def test_export_to_an_existing_file_fails_before_any_work(work):
    (work / "small.tflite").write_bytes(small_model())
    (work / "taken").write_text("someone's file")
    before = snapshot(work)
    line = assert_clean_failure(run_in(["export", "--tflite", "small.tflite", "--out", "taken"], work), 2,
                                before, work)
    assert "--out taken is a file" in line


def test_export_creates_no_parent_folders_when_it_fails(work):
    (work / "broken.pt").write_bytes(b"not a checkpoint")
    before = snapshot(work)
    result = run_in(["export", "--checkpoint", "broken.pt", "--out", "a/b/c/exp"], work)
    assert "broken.pt is corrupt" in assert_clean_failure(result, 2, before, work)
    assert not (work / "a").exists()


def test_export_refuses_to_replace_a_folder_it_did_not_write(work):
    (work / "small.tflite").write_bytes(small_model())
    (work / "photos").mkdir()
    (work / "photos" / "holiday.jpg").write_bytes(b"precious")
    before = snapshot(work)
    line = assert_clean_failure(run_in(["export", "--tflite", "small.tflite", "--out", "photos"], work), 2,
                                before, work)
    assert "holds files flynet-tiny did not write" in line


def test_build_without_the_compiler_leaves_nothing(work, monkeypatch):
    (work / "small.tflite").write_bytes(small_model())
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # python, but no arm-none-eabi-gcc
    before = snapshot(work)
    line = assert_clean_failure(run_in(["build", "--target", "f446re", "--model", "small.tflite"], work), 2,
                                before, work)
    assert "arm-none-eabi-gcc not found" in line and not (work / "build").exists()


def test_build_of_a_model_that_does_not_fit_leaves_nothing(work):
    """96x96x16 int8 activations (147,456 B) cannot fit the F446RE's 128 KB of SRAM: the linker says so."""
    m = ModelMaker(8, "too big")
    x = m.input((1, 96, 96, 3))
    (work / "big.tflite").write_bytes(m.build(x, m.conv(x, 16, k=1)))
    before = snapshot(work)
    result = run_in(["build", "--target", "f446re", "--model", "big.tflite", "--out", "fw/f446re"], work)
    line = assert_clean_failure(result, 1, before, work, progress=True)
    assert "firmware does not fit f446re: region SRAM overflowed" in line and not (work / "fw").exists()


def test_bench_whose_firmware_runs_past_the_timeout_leaves_nothing(work):
    (work / "small.tflite").write_bytes(small_model())
    before = snapshot(work)
    result = run_in(["bench", "--target", "f446re", "--tflite", "small.tflite", "--inputs", 1, "--timeout", 0.001,
                       "--out", "b/f446re"], work)
    line = assert_clean_failure(result, 1, before, work, progress=True)
    assert "firmware hung" in line and "raise --timeout" in line and not (work / "b").exists()


def test_a_read_only_out_is_one_line(work, tmp_path):
    """--out on a read-only file system (a read-only tmpfs mounted in a private mount namespace)."""
    (work / "small.tflite").write_bytes(small_model())
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    before = snapshot(work, readonly)
    args = ["generate", "small.tflite", "--out", readonly / "gen"]
    inner = " ".join(f"'{a}'" for a in cli_command(*args))
    command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
               f"mount -t tmpfs -o ro,size=64k tmpfs '{readonly}' && exec {inner}"]
    line = assert_clean_failure(run_process(args, work, command=command), 2, before, work, readonly)
    assert "Read-only file system" in line and "write somewhere writable" in line


def test_a_full_disk_is_one_line(work):
    """A write refused for space (the kernel's file-size limit, EFBIG) while export writes its outputs."""
    (work / "small.tflite").write_bytes(small_model())
    before = snapshot(work)

    def small_files_only():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    result = run_process(["export", "--tflite", "small.tflite", "--out", "exp"], work, preexec_fn=small_files_only)
    line = assert_clean_failure(result, 2, before, work)
    assert "File too large" in line and "free some space" in line


# -- signals: SIGTERM is Ctrl-C, and cleans up as it does -------------------------------------------

def interrupt_when(command: list[str], cwd: Path, ready: str, sig: int) -> tuple[subprocess.CompletedProcess, str]:
    """Start the CLI, send `sig` once it prints a stderr line starting with `ready`; (process, stderr)."""
    # A shell runs background jobs with SIGINT ignored, and Python then keeps it ignored: give the CLI the
    # disposition a terminal's Ctrl-C meets.
    proc = subprocess.Popen(command, cwd=cwd, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith(ready):
            time.sleep(0.1)
            proc.send_signal(sig)
            break
    lines += proc.stderr.readlines()
    proc.wait(timeout=120)
    return proc, "".join(lines)


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_during_export_removes_its_staging_folder(work, sig, code, word):
    (work / "small.tflite").write_bytes(small_model())
    before = snapshot(work)
    command = cli_command("export", "--tflite", "small.tflite", "--out", "exp", "--verify-samples", 200000)
    proc, stderr = interrupt_when(command, work, "[1/2] verify", sig)
    assert assert_clean_failure(CliResult(proc.returncode, "", stderr), code, before, work, progress=True) == word
    assert not list(work.glob(".exp.*"))


def test_sigterm_during_bench_kills_make_and_removes_the_firmware(work):
    (work / "small.tflite").write_bytes(small_model())
    before = snapshot(work)
    command = cli_command("bench", "--target", "f746zg", "--tflite", "small.tflite", "--inputs", 1, "--out", "b")
    proc, stderr = interrupt_when(command, work, "compiling", signal.SIGTERM)
    assert assert_clean_failure(CliResult(proc.returncode, "", stderr), 143, before, work, progress=True) == "terminated"
    assert not (work / "b").exists()  # alive_children() == [] above: make and its compilers are gone too


# -- tools: time limits, process groups, no shell ------------------------------------------------------

def test_a_tool_past_its_time_limit_is_stopped_with_its_children():
    start = time.monotonic()
    with pytest.raises(FlynetError, match=r"sleeper did not finish within 0.5 s"):
        run_tool(["sh", "-c", "sleep 60 & sleep 60; wait"], timeout_s=0.5, what="sleeper")
    assert time.monotonic() - start < 10
    deadline = time.monotonic() + 5
    while alive_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive_children() == []  # the background sleep, a grandchild, was killed with its group


def test_fit_compiles_without_a_shell(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(FlynetError):
        run_compile(f"true; touch {marker}", tmp_path)  # a shell would have run `touch`
    assert not marker.exists()
