"""Real images for the tests without any dataset beside the checkout: the bundled Fashion-MNIST samples
(the first 256 train and 256 test images, shipped as package data), and small IDX folders and
class-folder trees written from them. Checks that need the full datasets are benchmarks
(benchmarks/dataset_facts.py --data ...)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from flynet_tiny.resources import BUNDLED_SAMPLES

SPLITS = ("train", "test")
BUNDLED_COUNT = 256  # images per split in the bundled samples


@functools.lru_cache(maxsize=None)
def fashion_mnist(split: str = "test", input_size: int = 32):
    """A bundled Fashion-MNIST split (256 images), loaded once per test session."""
    from flynet_tiny.data.datasets import load_dataset

    return load_dataset(BUNDLED_SAMPLES, split, input_size=input_size, in_channels=1)


def write_idx_folder(folder: Path, start: int = 0, count: int = 64) -> Path:
    """An IDX folder (train + test, gzip as the originals) holding bundled images start..start+count."""
    from flynet_tiny.data.datasets import write_idx

    folder.mkdir(parents=True, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        data = fashion_mnist(split, 28)
        images = data.images[start:start + count, 0].numpy()
        labels = data.labels[start:start + count].numpy().astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def colour(gray: np.ndarray) -> np.ndarray:
    """Three different channels from one gray image (H, W) -> (H, W, 3): real pixels, no two channels equal."""
    return np.stack([gray, 255 - gray, gray.T], axis=-1).astype(np.uint8)


def write_rgb_class_tree(folder: Path, count: int = BUNDLED_COUNT, size: int = 32) -> Path:
    """A class-folder tree (train/<class>/*.png, test/<class>/*.png) of RGB images made from the bundled
    samples, `count` per split, padded to `size` so they load without resizing."""
    from PIL import Image

    for split in SPLITS:
        data = fashion_mnist(split, size)
        for i in range(count):
            class_dir = folder / split / f"class{int(data.labels[i])}"
            class_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(colour(data.images[i, 0].numpy())).save(class_dir / f"{i:03d}.png")
    return folder
