"""External tools (compilers, binutils, make, QEMU) run with a time limit, in a process group of their own.

Every tool the package starts goes through `run_tool`: no shell, a wall-clock limit, and on a
timeout, Ctrl-C, SIGTERM or any error in this process the whole group is killed (`make -j`'s
compilers included), so nothing outlives the command. The limits are generous: they exist to
turn a wedged tool into a one-line error, not to police slow machines.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Callable, Sequence

from .errors import FlynetError

# Wall-clock limits in seconds (documented in README.md, "Time limits").
INSPECT_TIMEOUT_S = 60.0     # nm, readelf, objdump, size, gcc -print-*: reading one file
COMPILE_TIMEOUT_S = 300.0    # one host gcc invocation (kernel library, generated model, QEMU plugin)
BUILD_TIMEOUT_S = 900.0      # one `make` of a firmware or library folder (all of its compiler runs)

_KILL_GRACE_S = 2.0


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the child's whole process group (it was started with start_new_session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(proc: subprocess.Popen, grace_s: float = _KILL_GRACE_S) -> tuple[str, str]:
    """SIGTERM the group (a tool may flush what it has), then SIGKILL after `grace_s`; what it printed."""
    kill_group(proc, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        kill_group(proc, signal.SIGKILL)
        out, err = proc.communicate()
    return out, err


def start_tool(command: Sequence[str | Path], *, what: str, cwd: Path | str | None = None,
               env: dict[str, str] | None = None, preexec_fn: Callable[[], None] | None = None,
               stdout=subprocess.PIPE, stderr=subprocess.PIPE) -> subprocess.Popen:
    """Popen in a new session (its own process group), text output; FlynetError if the tool cannot start."""
    try:
        return subprocess.Popen([str(c) for c in command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=stderr, text=True, errors="replace",
                                start_new_session=True, preexec_fn=preexec_fn)
    except OSError as exc:
        raise FlynetError(f"cannot run {what} ({command[0]}): {exc.strerror or exc}; check that it is installed") from None


def run_tool(command: Sequence[str | Path], *, timeout_s: float, what: str, cwd: Path | str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `command` to completion within `timeout_s`; FlynetError naming `what` when it runs over.
    The caller reads returncode, stdout and stderr (the tool's own failure is not an exception here)."""
    proc = start_tool(command, what=what, cwd=cwd, env=env)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise FlynetError(f"{what} did not finish within {timeout_s:g} s and was stopped: "
                          "check the machine's load, or that the tool is not waiting for input") from None
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
