"""Where the non-Python parts of the package live, and where it may write caches.

Firmware sources (`firmware/`: kernels, runtime, board support, the QEMU plugin), the board
files (`targets/*.toml`) and the bundled model are package data, so a plain `pip install .`
works as well as an editable install. Build caches go to the user's cache folder
(`$XDG_CACHE_HOME/flynet-tiny`, else `~/.cache/flynet-tiny`), never into the package.
"""

import os
from pathlib import Path

from .errors import FlynetError

PACKAGE_DIR = Path(__file__).resolve().parent
FIRMWARE_DIR = PACKAGE_DIR / "firmware"
TARGETS_DIR = PACKAGE_DIR / "targets"
PRETRAINED_DIR = PACKAGE_DIR / "pretrained"
# The bundled model, and a few hundred real Fashion-MNIST images (IDX, train + test) shipped with it,
# so the main command verifies and benchmarks on real inputs with no dataset at hand.
BUNDLED_CHECKPOINT = PRETRAINED_DIR / "flynet-fashion-mnist.pt"
BUNDLED_SAMPLES = PRETRAINED_DIR / "fashion-mnist-samples"


def firmware_dir(*parts: str) -> Path:
    """A folder of the firmware sources, e.g. firmware_dir("kernels")."""
    path = FIRMWARE_DIR.joinpath(*parts)
    if not path.is_dir():
        raise FlynetError(f"{path} is missing: reinstall flynet-tiny (pip install .)")
    return path


def cache_dir(name: str) -> Path:
    """A per-user cache folder for build products (host kernel library, QEMU plugin, fit calibration)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "flynet-tiny" / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FlynetError(f"cannot create the cache folder {path}: {exc.strerror}; set XDG_CACHE_HOME to a writable folder") from exc
    return path
