"""Run the `flynet-tiny` entry point in this process, exit code and output captured."""

import contextlib
import io
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from flynet_tiny.cli import main


def run_cli(args, capsys) -> tuple[int, str, str]:
    old_argv = sys.argv
    sys.argv = ["flynet-tiny", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old_argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_in(args, cwd: Path) -> CliResult:
    """The entry point run from folder `cwd`, outside pytest's capture (no interpreter start-up per call);
    the SIGTERM handler main() installs is put back afterwards."""
    out, err = io.StringIO(), io.StringIO()
    argv, here, term = sys.argv, os.getcwd(), signal.getsignal(signal.SIGTERM)
    sys.argv = ["flynet-tiny", *map(str, args)]
    os.chdir(cwd)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
        os.chdir(here)
        signal.signal(signal.SIGTERM, term)
    return CliResult(code, out.getvalue(), err.getvalue())
