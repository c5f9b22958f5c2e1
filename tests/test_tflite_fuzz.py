"""500 mutated copies of real small .tflite models through `generate` and `export --tflite`.

Mutations (seeded, so every run tests the same 500 files): bit flips, truncations, random bytes,
and "index bumps" (a small little-endian integer, most likely a vector length, an offset or a
tensor / buffer / opcode index, moved up or made huge). Half are made from `conv_chain_model`,
half from `mixed_ops_model` (tests/codegen_models.py), which between them hold every op the code
generator takes but the fused patterns.

All 500 run through the code generator (`generate_model_sources`, what `flynet-tiny generate`
calls) and through the whole export (`pipeline.export.export`, what `flynet-tiny export --tflite`
calls: validation, LiteRT and TFLM, the C arrays), in this process for speed. Each must end in
success or a FlynetError whose message is one line: no other exception (0 tracebacks) and none
past the per-case time limit (0 hangs). Every 10th case also goes through the CLI entry point, which
must exit 0, 1 or 2 with one line on stderr when it fails.
"""

from __future__ import annotations

import contextlib
import io
import random
import signal
import time
import traceback

import pytest

from cli_helpers import run_in
from codegen_models import conv_chain_model, mixed_ops_model
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.errors import FlynetError
from flynet_tiny.pipeline.export import ExportRequest, export

SEED = 15
CASES = 500
CASE_LIMIT_S = 10.0  # a case taking longer counts as a hang
CLI_EVERY = 10


def mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    kind = rng.choice(["flip", "truncate", "byte", "bump"])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        out = out[:rng.randrange(len(out))]
    elif kind == "byte":
        out[rng.randrange(len(out))] = rng.randrange(256)
    else:
        small = [i for i in range(0, len(out) - 4, 4) if int.from_bytes(out[i:i + 4], "little") < 64]
        i = rng.choice(small)
        value = int.from_bytes(out[i:i + 4], "little") + rng.choice([1, 2, 7, 100, 1 << 20, 0xFFFFFFFF])
        out[i:i + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
    return kind, bytes(out)


@pytest.fixture(scope="module")
def cases() -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    bases = [conv_chain_model(), mixed_ops_model()]
    return [mutate(rng, bases[n % 2]) for n in range(CASES)]


class TimeLimit(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt Python-level work past `seconds` (a hang in C is caught by the elapsed-time check)."""
    def expire(signum, frame):
        raise TimeLimit()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcomes(cases, run) -> tuple[dict[str, int], list[str]]:
    """Run every case; (count per outcome, the problems: tracebacks, hangs, multi-line messages)."""
    counts = {"ok": 0, "one-line error": 0}
    problems = []
    for number, (kind, data) in enumerate(cases):
        start = time.monotonic()
        try:
            with time_limit(CASE_LIMIT_S), contextlib.redirect_stderr(io.StringIO()):
                run(number, data)
            counts["ok"] += 1
        except FlynetError as exc:
            counts["one-line error"] += 1
            if "\n" in str(exc):
                problems.append(f"case {number} ({kind}): a multi-line message: {exc!r}")
        except TimeLimit:
            problems.append(f"case {number} ({kind}): still running after {CASE_LIMIT_S:g} s")
        except Exception as exc:  # the point of the test: anything else is a traceback for the user
            where = traceback.extract_tb(exc.__traceback__)[-1]
            problems.append(f"case {number} ({kind}): {type(exc).__name__} at {where.filename}:{where.lineno}: {exc}")
        if time.monotonic() - start > CASE_LIMIT_S:
            problems.append(f"case {number} ({kind}): took {time.monotonic() - start:.1f} s")
    return counts, problems


def test_generate_ends_every_mutated_model_in_success_or_one_line(cases, tmp_path):
    counts, problems = outcomes(cases, lambda n, data: generate_model_sources(data, tmp_path / f"gen{n}"))
    assert problems == []
    assert counts["ok"] + counts["one-line error"] == CASES and counts["one-line error"] > CASES // 2


def test_export_ends_every_mutated_model_in_success_or_one_line(cases, tmp_path):
    def run(number: int, data: bytes) -> None:
        path = tmp_path / f"m{number}.tflite"
        path.write_bytes(data)
        export(ExportRequest(out=tmp_path / f"exp{number}", tflite=path, verify_samples=4))

    counts, problems = outcomes(cases, run)
    assert problems == []
    assert counts["ok"] > 0 and counts["one-line error"] > CASES // 2
    assert not list(tmp_path.glob(".exp*"))  # no staging folder survived a failure


@pytest.mark.parametrize("command", ["generate", "export"])
def test_the_cli_reports_each_failure_in_one_line(cases, tmp_path, command):
    for number, (kind, data) in enumerate(cases[::CLI_EVERY]):
        work = tmp_path / f"case{number}"
        work.mkdir()
        (work / "m.tflite").write_bytes(data)
        args = ["generate", "m.tflite", "--out", "gen"] if command == "generate" else \
            ["export", "--tflite", "m.tflite", "--out", "exp", "--verify-samples", 4]
        result = run_in(args, work)
        assert result.returncode in (0, 1, 2) and "Traceback" not in result.stderr, (kind, result.stderr)
        if result.returncode:
            assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), (kind, result.stderr)
            assert [p.name for p in work.iterdir()] == ["m.tflite"], kind
