"""Running the CLI on bad input and checking that it failed cleanly.

A clean failure: the expected exit code; one line on stderr, `error: ...` (or `interrupted` /
`terminated`), and no traceback; nothing created or changed in the watched folders; and no child
process left alive. The last is checked for real: the test process makes itself a child subreaper
(prctl PR_SET_CHILD_SUBREAPER), so a tool the CLI started and left behind, even one whose parent
died, becomes a child of the test process and is found in /proc.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import flatbuffers
import numpy as np

from cli_helpers import CliResult
from codegen_models import ModelMaker
from flynet_tiny.tflite.schema import FILE_IDENTIFIER, schema

ROOT = Path(__file__).resolve().parents[1]
PR_SET_CHILD_SUBREAPER = 36
# Lines a command prints while it works; a failure found after work started follows some of them.
PROGRESS_PREFIXES = ("[", "      ", "generated C for ", "compiling ", "inputs: ", "running ", "QEMU run ")


def set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def alive_children() -> list[str]:
    """Command lines of this process's children that still run; exited orphans are reaped on the way."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) != os.getpid():
            continue
        if state == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry.name), os.WNOHANG)
        else:
            alive.append(f"{entry.name}: {cmdline}")
    return alive


def snapshot(*folders: Path) -> dict[str, tuple]:
    """Every file and folder under `folders` (hidden ones too) with its size, mtime and content hash."""
    state = {}
    for folder in folders:
        state[str(folder)] = ("dir",) if folder.is_dir() else ("missing",)
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_dir():
                state[str(path)] = ("dir",)
            else:
                info = path.stat()
                state[str(path)] = (info.st_size, info.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def cli_command(*args) -> list[str]:
    return [sys.executable, "-m", "flynet_tiny.cli", *map(str, args)]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def run_process(args, cwd: Path, *, command=None, preexec_fn=None, timeout: float = 300, env=None) -> CliResult:
    """The CLI as its own process (`python3 -m flynet_tiny.cli`), where process behaviour matters."""
    proc = subprocess.run(command or cli_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env or cli_env(), preexec_fn=preexec_fn)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_failure(result: CliResult, code: int, before: dict, *folders: Path, progress: bool = False) -> str:
    """The failure is clean (see the module docstring); returns its line. `progress`: lines the command prints
    while working may precede it (a failure found only after work started: a link, a QEMU run, a signal)."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.lines
    assert lines, "nothing on stderr"
    last = lines[-1]
    assert last.startswith("error: ") or last in ("interrupted", "terminated"), result.stderr
    if progress:
        assert all(line.startswith(PROGRESS_PREFIXES) for line in lines[:-1]), result.stderr
    else:
        assert len(lines) == 1, result.stderr
    assert snapshot(*folders) == before, "files were created or changed"
    assert alive_children() == []
    return last


# -- models ---------------------------------------------------------------------------------------

def small_model(seed: int = 5) -> bytes:
    """conv -> reshape -> fully connected: one of each kind of operand (weights, bias, shape)."""
    m = ModelMaker(seed, "small")
    x = m.input((1, 6, 6, 1))
    y = m.conv(x, 4, k=3)
    return m.build(x, m.fully_connected(m.reshape(y, (1, 144)), 3))


def two_input_model(seed: int = 6) -> bytes:
    m = ModelMaker(seed, "two inputs")
    a = m.input((1, 4, 4, 2))
    b = m.tensor((1, 4, 4, 2), 0.03, -5, name="input_b")
    y = m.add(a, b)
    m.b.set_io([a, b], [y])
    return m.b.build()


def edited(model_bytes: bytes, edit) -> bytes:
    """The model after `edit(model)` on its flatbuffer object tree, packed again."""
    model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    edit(model)
    builder = flatbuffers.Builder(len(model_bytes))
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def constant_tensor(model, dtype: int = schema.TensorType.INT8):
    """(tensor, buffer) of the first constant tensor of `dtype` (the conv weights for INT8)."""
    subgraph = model.subgraphs[0]
    return next((t, model.buffers[t.buffer]) for t in subgraph.tensors
                if t.type == dtype and model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data))


def opcode_out_of_range(model) -> None:
    model.subgraphs[0].operators[0].opcodeIndex = len(model.operatorCodes) + 4


def buffer_out_of_range(model) -> None:
    constant_tensor(model)[0].buffer = len(model.buffers) + 90


def tensor_out_of_range(model) -> None:
    op = model.subgraphs[0].operators[0]
    op.inputs = [len(model.subgraphs[0].tensors) + 40, *list(op.inputs)[1:]]


def short_weights(model) -> None:
    _, buffer = constant_tensor(model)
    buffer.data = np.asarray(buffer.data)[:-5]


def custom_op(model) -> None:
    """Operator 0 becomes the custom op `MyOp` (a model a converter wrote with a custom kernel)."""
    op = model.subgraphs[0].operators[0]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = b"MyOp"
    code.version = 1
    model.operatorCodes.append(code)
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.builtinOptionsType, op.builtinOptions = 0, None


def zero_size_fc() -> bytes:
    """A FULLY_CONNECTED over zero input features: its weights hold no bytes at all."""
    m = ModelMaker(7, "zero-size fc")
    x = m.tensor((1, 0), 0.02, 0, name="input")
    w = m.b.add_tensor("fc/w", [3, 0], "int8", data=np.zeros((3, 0), np.int8), scale=0.01, zero_point=0)
    y = m.tensor((1, 3), 0.05, 0, name="fc")
    m.b.add_operator("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "NONE"})
    return m.build(x, y)
