"""Where the non-Python parts of the project live (board data, firmware sources).

They sit beside the package in the source tree, which is how the package is
installed (`pip install -e .`).
"""

from pathlib import Path

from .errors import FlynetError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_dir(name: str) -> Path:
    path = PROJECT_ROOT / name
    if not path.is_dir():
        raise FlynetError(
            f"{path} is missing: install flynet-tiny from its source tree with 'pip install -e .'"
        )
    return path
