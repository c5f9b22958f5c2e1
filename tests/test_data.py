"""Data loading on the bundled samples and on small trees the tests write, plus every bad-input path.
The full datasets' documented facts (hashes, counts) are checked by benchmarks/dataset_facts.py --data."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from flynet_tiny.errors import FlynetError
from flynet_tiny.resources import BUNDLED_SAMPLES
from flynet_tiny.data.datasets import (PIXEL_MEAN, PIXEL_STD, augment_batch, convert_channels, iterate_batches,
                                    load_dataset, normalize, synthetic_dataset, write_idx)

CLASSES = ["airplane", "bird", "cat"]


def rgb_sha256(image_chw: torch.Tensor) -> str:
    return hashlib.sha256(image_chw.permute(1, 2, 0).contiguous().numpy().tobytes()).hexdigest()


def raw_idx(path: Path) -> tuple[tuple[int, ...], bytes]:
    """(dims, payload) of an IDX file, read with the standard library only (independent of read_idx)."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return dims, raw[4 + 4 * ndim:]


@pytest.fixture(scope="module")
def fashion_test_28():
    return load_dataset(BUNDLED_SAMPLES, "test", input_size=28)


@pytest.mark.parametrize("split,prefix", [("train", "train"), ("test", "t10k")])
def test_bundled_fashion_mnist_is_byte_exact(split, prefix):
    ds = load_dataset(BUNDLED_SAMPLES, split, input_size=28)
    dims, pixels = raw_idx(BUNDLED_SAMPLES / f"{prefix}-images-idx3-ubyte.gz")
    label_dims, labels = raw_idx(BUNDLED_SAMPLES / f"{prefix}-labels-idx1-ubyte.gz")
    assert dims == (256, 28, 28) and label_dims == (256,)
    assert ds.images.shape == (256, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.images.numpy().tobytes() == pixels
    assert ds.labels.tolist() == list(labels)
    assert ds.info.num_classes == 10 and ds.info.in_channels == 1 and ds.info.split == split


def test_padding_centres_the_image_and_rgb_repeats_gray(fashion_test_28):
    padded = load_dataset(BUNDLED_SAMPLES, "test", input_size=32, in_channels=3)
    assert padded.images.shape == (256, 3, 32, 32)
    assert torch.equal(padded.images[:, 1:2, 2:30, 2:30], fashion_test_28.images)
    assert torch.equal(padded.images[:, 0], padded.images[:, 2])
    border = padded.images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert int(border.max()) == 0


def write_class_images(folder: Path, per_class: int, seed: int) -> dict[str, tuple[int, str]]:
    """PNG images of random RGB pixels, `per_class` in each of CLASSES; {relative file: (label, RGB sha256)}."""
    rng = np.random.default_rng(seed)
    manifest = {}
    for label, name in enumerate(CLASSES):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            path = folder / name / f"{i:03d}.png"
            Image.fromarray(pixels).save(path)
            manifest[str(path.relative_to(folder.parent if folder.name in ("train", "test") else folder))] = (
                label, hashlib.sha256(pixels.tobytes()).hexdigest())
    return manifest


def test_class_folders_load_every_image_with_its_label(tmp_path):
    write_class_images(tmp_path / "train", 3, seed=1)
    manifest = write_class_images(tmp_path / "test", 4, seed=2)
    ds = load_dataset(tmp_path, "test", input_size=32)
    assert ds.info.class_names == CLASSES
    assert ds.images.shape == (12, 3, 32, 32)
    assert sorted(ds.files) == sorted(manifest)
    for i, name in enumerate(ds.files):
        assert (int(ds.labels[i]), rgb_sha256(ds.images[i])) == manifest[name], name


def test_flat_class_tree_holds_out_every_tenth_image(tmp_path):
    manifest = write_class_images(tmp_path, 25, seed=3)
    train, test = load_dataset(tmp_path, "train"), load_dataset(tmp_path, "test")
    assert len(train) + len(test) == 75
    assert torch.bincount(test.labels, minlength=3).tolist() == [2, 2, 2]  # images 9 and 19 of each class
    assert sorted(test.files) == sorted(f"{c}/{i:03d}.png" for c in CLASSES for i in (9, 19))
    assert not set(train.files) & set(test.files)
    for i, name in enumerate(test.files):
        assert rgb_sha256(test.images[i]) == manifest[name][1]


def test_mixed_sizes_are_padded_or_resized(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.new("RGB", (40, 48), (10, 200, 30)).save(tmp_path / "a" / "big.png")
    Image.new("L", (20, 24), 77).save(tmp_path / "b" / "small.png")
    ds = load_dataset(tmp_path, "train", input_size=32)
    assert ds.info.in_channels == 3 and ds.info.class_names == ["a", "b"]
    big, small = ds.images[ds.labels == 0][0], ds.images[ds.labels == 1][0]
    assert big[:, 0, 0].tolist() == [10, 200, 30] and int((big != big[:, :1, :1]).sum()) == 0
    assert int(small[:, 4:28, 6:26].min()) == 77 == int(small[:, 4:28, 6:26].max())
    assert int(small.sum()) == 77 * 3 * 24 * 20


def test_rgb_to_gray_matches_pillow():
    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    gray = convert_channels(torch.from_numpy(rgb).permute(2, 0, 1)[None], 1)
    assert np.array_equal(gray[0, 0].numpy(), expected)


def test_normalisation_maps_pixels_to_exact_int8_grid():
    pixels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    x = normalize(pixels)
    assert PIXEL_MEAN == 128.0 and PIXEL_STD == 128.0
    assert torch.equal(x * 128, pixels.float() - 128)


def test_augmentation_is_a_shifted_or_flipped_crop():
    ds = synthetic_dataset(16, input_size=8, in_channels=2, seed=3)
    out = augment_batch(ds.images, torch.Generator().manual_seed(0), pad=1)
    again = augment_batch(ds.images, torch.Generator().manual_seed(0), pad=1)
    assert torch.equal(out, again) and out.shape == ds.images.shape
    padded = torch.nn.functional.pad(ds.images, (1, 1, 1, 1))
    for img, src in zip(out, padded):
        crops = [src[:, dy:dy + 8, dx:dx + 8] for dy in range(3) for dx in range(3)]
        assert any(torch.equal(img, c) or torch.equal(img, c.flip(-1)) for c in crops)


def test_batches_cover_indices_in_order():
    ds = synthetic_dataset(10, input_size=4, seed=0)
    order = torch.tensor([9, 3, 5, 0, 1, 2, 4, 6, 7, 8])
    batches = list(iterate_batches(ds, order, batch_size=4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in batches]), ds.labels[order])
    assert torch.equal(batches[0][0][0], ds[9][0])


def test_synthetic_set_is_seeded_and_balanced():
    a, b, c = synthetic_dataset(40, 8, 3, 4, seed=5), synthetic_dataset(40, 8, 3, 4, seed=5), synthetic_dataset(40, 8, 3, 4, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert torch.bincount(a.labels).tolist() == [10] * 4


def test_idx_round_trip_gzip_and_plain(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 5, 6), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 2, 0, 1, 2, 3], dtype=np.uint8))
    ds = load_dataset(tmp_path, "train", input_size=6)
    assert torch.equal(ds.images[:, 0, :, :], torch.from_numpy(np.pad(images, ((0, 0), (0, 1), (0, 0)))))
    assert ds.labels.tolist() == [0, 1, 2, 0, 1, 2, 3] and ds.info.num_classes == 4


# ---------------------------------------------------------------------------- bad input

def _idx_dir(tmp_path, n=4, labels=None):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((n, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array(labels if labels is not None else [0] * n, dtype=np.uint8))
    return tmp_path


def _error(path, **kwargs) -> str:
    with pytest.raises(FlynetError) as info:
        load_dataset(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_and_non_directory_paths(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope")
    (tmp_path / "file.bin").write_bytes(b"x")
    assert "not a directory" in _error(tmp_path / "file.bin")
    assert "no IDX files and no class folders" in _error(tmp_path)


def test_corrupt_idx_header_names_the_file(tmp_path):
    path = _idx_dir(tmp_path) / "train-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[3] = 0x02
    path.write_bytes(bytes(raw))
    assert f"corrupt IDX header in {path}" in _error(tmp_path)


def test_truncated_idx_and_count_mismatch(tmp_path):
    path = _idx_dir(tmp_path) / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    assert "corrupt IDX file" in _error(tmp_path)
    _idx_dir(tmp_path, n=4, labels=[0, 1, 2])
    assert "do not belong together" in _error(tmp_path)


def test_missing_test_split_is_named(tmp_path):
    _idx_dir(tmp_path)
    assert "no t10k-images-idx3-ubyte[.gz]; add the test split" in _error(tmp_path, split="test")


def test_corrupt_gzip(tmp_path):
    _idx_dir(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").unlink()
    good = gzip.compress(b"\0" * 100)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(good[:20])
    assert "cannot read IDX file" in _error(tmp_path)


def test_labels_out_of_range(tmp_path):
    _idx_dir(tmp_path, labels=[0, 3, 7, 1])
    assert "go up to 7 but the model has 5 classes" in _error(tmp_path, num_classes=5)


def test_empty_class_folder_and_unreadable_image(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "cat" / "0.png")
    assert f"class folder {tmp_path / 'dog'} has no images" in _error(tmp_path)
    (tmp_path / "dog" / "0.png").write_bytes(b"not a png")
    assert "cannot read image" in _error(tmp_path)
