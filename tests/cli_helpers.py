"""Run the `flynet-tiny` entry point in this process, exit code and output captured."""

import sys

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
