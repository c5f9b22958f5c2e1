"""User-facing errors: one line, a fix, and an exit code that means something.

Exit codes follow the CLI convention: 0 ok, 1 a check failed, 2 usage or input error.
"""


class FlynetError(Exception):
    """A problem with the user's input or environment, reported as one line."""

    exit_code = 2


class CheckFailed(FlynetError):
    """A check ran and its answer is 'no' (model does not fit, outputs differ, ...)."""

    exit_code = 1
