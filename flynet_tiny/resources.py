"""Where the non-Python parts of the project live (board data, firmware sources).

They sit beside the package in the source tree, which is how the package is
installed (`pip install -e .`).
"""

from pathlib import Path

from .errors import FlynetError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
# The bundled model, and a few hundred real Fashion-MNIST images (IDX, train + test) shipped with it,
# so the main command verifies and benchmarks on real inputs with no dataset at hand.
BUNDLED_CHECKPOINT = PRETRAINED_DIR / "flynet-fashion-mnist.pt"
BUNDLED_SAMPLES = PRETRAINED_DIR / "fashion-mnist-samples"


def project_dir(name: str) -> Path:
    path = PROJECT_ROOT / name
    if not path.is_dir():
        raise FlynetError(
            f"{path} is missing: install flynet-tiny from its source tree with 'pip install -e .'"
        )
    return path
