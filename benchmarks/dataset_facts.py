"""The full datasets against their documented facts: byte-exact Fashion-MNIST, CIFAR-10 manifest hashes.

    python benchmarks/dataset_facts.py --data ../shared/datasets

--data is a folder holding fashion-mnist/ (IDX) and cifar10/ (class folders with manifest.csv and
test_lossless_subset/). The tests check the loaders on the bundled samples and on trees they write;
this script checks them on the real, full datasets and prints one row per fact. Exit 1 if any fails.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path

import torch

from flynet_tiny.data.datasets import load_dataset
from flynet_tiny.reporting import format_table

# git blob id of the uncompressed t10k-images-idx3-ubyte, from fashion-mnist/SOURCE.md.
FASHION_T10K_IMAGES_BLOB = "37bac79bc6f002d965f363e0b20514904504a4d9"
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def rgb_sha256(image_chw: torch.Tensor) -> str:
    return hashlib.sha256(image_chw.permute(1, 2, 0).contiguous().numpy().tobytes()).hexdigest()


def fashion_facts(root: Path) -> list[tuple[str, bool]]:
    test = load_dataset(root, "test", input_size=28)
    raw = (0x803).to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (10000, 28, 28))
    train = load_dataset(root, "train", input_size=32)
    padded = load_dataset(root, "test", input_size=32, in_channels=3)
    return [
        ("fashion-mnist test: 10000 images, byte-exact (git blob id)",
         test.images.shape == (10000, 1, 28, 28) and git_blob_sha1(raw + test.images.numpy().tobytes())
         == FASHION_T10K_IMAGES_BLOB),
        ("fashion-mnist test: 1000 per class", torch.bincount(test.labels).tolist() == [1000] * 10),
        ("fashion-mnist train: 60000 images, 6000 per class",
         train.images.shape == (60000, 1, 32, 32) and torch.bincount(train.labels).tolist() == [6000] * 10),
        ("fashion-mnist padded to 32, gray repeated to RGB",
         torch.equal(padded.images[:, 1:2, 2:30, 2:30], test.images) and torch.equal(padded.images[:, 0],
                                                                                    padded.images[:, 2])),
    ]


def cifar_facts(root: Path) -> list[tuple[str, bool]]:
    test = load_dataset(root, "test", input_size=32)
    with open(root / "manifest.csv", newline="") as fh:
        manifest = {row["file"]: row for row in csv.DictReader(fh) if row["split"] == "test"}
    hashes_match = sorted(test.files) == sorted(manifest) and all(
        int(test.labels[i]) == int(manifest[name]["label"]) and rgb_sha256(test.images[i]) == manifest[name]["rgb_sha256"]
        for i, name in enumerate(test.files))
    subset = root / "test_lossless_subset"
    train, held = load_dataset(subset, "train"), load_dataset(subset, "test")
    per_class = [len(list((subset / c).glob("*.png"))) for c in CIFAR_CLASSES]
    with open(subset / "manifest.csv", newline="") as fh:
        subset_hashes = {row["file"]: row["rgb_sha256"] for row in csv.DictReader(fh)}
    return [
        ("cifar10 test: 10000 RGB images, classes in order",
         test.images.shape == (10000, 3, 32, 32) and test.info.class_names == CIFAR_CLASSES),
        ("cifar10 test: labels and RGB hashes match manifest.csv", hashes_match),
        ("cifar10 lossless subset: 846 images, every tenth held out",
         len(train) + len(held) == 846 and torch.bincount(held.labels, minlength=10).tolist()
         == [n // 10 for n in per_class] and not set(train.files) & set(held.files)),
        ("cifar10 lossless subset: held-out hashes match its manifest",
         all(rgb_sha256(held.images[i]) == subset_hashes[f"test_lossless_subset/{name}"]
             for i, name in enumerate(held.files))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with fashion-mnist/ and cifar10/")
    args = parser.parse_args()
    rows, failed = [], 0
    for name, check in (("fashion-mnist", fashion_facts), ("cifar10", cifar_facts)):
        start = time.perf_counter()
        facts = check(args.data / name)
        seconds = time.perf_counter() - start
        for fact, ok in facts:
            rows.append([fact, "ok" if ok else "FAILED", f"{seconds:.1f}"])
            failed += not ok
    print(format_table(["fact", "result", "load + check s"], rows, "llr"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
