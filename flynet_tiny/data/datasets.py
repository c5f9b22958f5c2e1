"""Image classification data: IDX files, class-folder trees and a synthetic set.

Every dataset is held in memory as one uint8 tensor (N, C, S, S) already fitted to the
model's input size, so a training batch costs only tensor ops (augment + normalise),
never a per-image PIL call. Normalisation is fixed, x = (pixel - 128) / 128 for every
channel: an int8 input then equals `pixel - 128` exactly (scale 1/128, zero point 0).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import FlynetError

PIXEL_MEAN = 128.0
PIXEL_STD = 128.0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
IDX_PREFIXES = {"train": "train", "test": "t10k"}
IDX_UBYTE = 0x08
# A flat `<class>/` tree has no test split: every 10th image (by sorted name) is held out.
FLAT_TREE_TEST_EVERY = 10


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data; written into checkpoints and model metadata."""

    num_classes: int
    class_names: list[str]
    in_channels: int
    input_size: int
    # Per channel, in pixel units (0..255): x = (pixel - mean) / std.
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    source: str = ""
    split: str = ""
    # The images as stored, before fitting to the model (0 / [] where unknown): how evaluation tells
    # the data a model was trained on from other data that would be silently converted to fit it.
    source_channels: int = 0
    source_size: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class ImageDataset(torch.utils.data.Dataset):
    """uint8 images (N, C, S, S) and int64 labels (N,); items are normalised float tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, info: DataInfo,
                 files: Sequence[str] | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.info = info
        self.files = list(files) if files is not None else None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return normalize(self.images[index:index + 1])[0], int(self.labels[index])

    def subset(self, indices: Sequence[int] | torch.Tensor | int) -> "ImageDataset":
        """A dataset of the given items (an int n means the first n)."""
        if isinstance(indices, int):
            indices = torch.arange(min(indices, len(self)))
        idx = torch.as_tensor(indices, dtype=torch.int64)
        files = [self.files[i] for i in idx.tolist()] if self.files is not None else None
        return ImageDataset(self.images[idx], self.labels[idx], self.info, files)

    def check_labels(self, num_classes: int) -> None:
        """FlynetError when a label does not fit a model with `num_classes` outputs."""
        if len(self.labels) and int(self.labels.max()) >= num_classes:
            raise FlynetError(
                f"labels in {self.info.source} go up to {int(self.labels.max())} but the model has "
                f"{num_classes} classes; pass --classes {int(self.labels.max()) + 1} or fix the labels")


def check_matches_model(dataset: ImageDataset, model_info: dict, model: str = "the model") -> None:
    """FlynetError when `dataset` is not the kind of data `model` was trained on (`model_info`: its DataInfo
    as a dict): another number of classes, or images with other channels or another size before fitting.
    Such data would be converted to fit without a word and score near chance."""
    data = dataset.info
    classes = model_info.get("num_classes")
    if classes and data.num_classes and data.num_classes != classes:
        raise FlynetError(f"{data.source} has {data.num_classes} classes but {model} was trained on {classes}: "
                          "pass --data with the dataset the model was trained on")
    channels = model_info.get("source_channels") or model_info.get("in_channels")
    if channels and data.source_channels and data.source_channels != channels:
        raise FlynetError(f"{data.source} holds {data.source_channels}-channel images but {model} was trained on "
                          f"{channels}-channel ones: pass --data with the dataset the model was trained on")
    size = list(model_info.get("source_size") or [])
    if size and data.source_size and list(data.source_size) != size:
        raise FlynetError(f"{data.source} holds {'x'.join(map(str, data.source_size))} images but {model} was trained "
                          f"on {'x'.join(map(str, size))} ones: pass --data with the dataset the model was trained on")


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float model input, the one normalisation used everywhere."""
    return (images.to(torch.float32) - PIXEL_MEAN) * (1.0 / PIXEL_STD)


def load_dataset(path: str | Path, split: str = "train", input_size: int = 32,
                 in_channels: int | None = None, num_classes: int | None = None) -> ImageDataset:
    """Load an IDX directory or a class-folder tree, fitted to `input_size` x `input_size`.

    `in_channels` None keeps the data's own (1 for grayscale, 3 for colour); 1 or 3 converts.
    `num_classes` set: every label must be below it (else FlynetError).
    """
    if split not in IDX_PREFIXES:
        raise FlynetError(f"unknown split {split!r}; use 'train' or 'test'")
    if in_channels not in (None, 1, 3):
        raise FlynetError(f"in_channels must be 1 or 3, got {in_channels}")
    if input_size < 1:
        raise FlynetError(f"input size must be positive, got {input_size}")
    root = Path(path)
    if not root.exists():
        raise FlynetError(f"data path {root} does not exist; pass a directory of IDX files or class folders")
    if not root.is_dir():
        raise FlynetError(f"data path {root} is not a directory; pass the folder that holds the IDX files or class folders")
    if _idx_file(root, split, "images") is not None:
        dataset = _load_idx(root, split, input_size, in_channels)
    elif any(_idx_file(root, other, "images") for other in IDX_PREFIXES):
        raise FlynetError(f"{root} has IDX files but no {IDX_PREFIXES[split]}-images-idx3-ubyte[.gz]; "
                          f"add the {split} split")
    else:
        dataset = _load_class_folders(root, split, input_size, in_channels)
    if num_classes is not None:
        dataset.check_labels(num_classes)
    return dataset


def synthetic_dataset(n: int, input_size: int = 32, in_channels: int = 1, num_classes: int = 10,
                      seed: int = 0, split: str = "train") -> ImageDataset:
    """A learnable toy set: one smooth random template per class (from `seed`) plus per-image noise.

    Both splits of one seed share the templates and differ in their samples; same arguments, same bytes.
    """
    # Coarse 4x4 patterns scaled up: smooth, so crop-and-flip augmentation keeps them recognisable.
    coarse = torch.randint(0, 256, (num_classes, in_channels, 4, 4), generator=torch.Generator().manual_seed(seed))
    templates = F.interpolate(coarse.float(), size=(input_size, input_size), mode="bilinear", align_corners=False).round().long()
    gen = torch.Generator().manual_seed(seed * 2 + (split == "test") + 1)
    labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=gen)]
    noise = torch.randint(-60, 61, (n, in_channels, input_size, input_size), generator=gen)
    images = (templates[labels] + noise).clamp(0, 255).to(torch.uint8)
    info = _info(num_classes, [str(c) for c in range(num_classes)], in_channels, input_size,
                 f"synthetic(seed={seed})", split)
    return ImageDataset(images, labels, info)


# ---------------------------------------------------------------------------- batching

def iterate_batches(dataset: ImageDataset, indices: torch.Tensor, batch_size: int, augment: bool = False,
                    generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Normalised (x, y) batches over `indices` in order; augmentation draws from `generator`."""
    for start in range(0, len(indices), batch_size):
        idx = indices[start:start + batch_size]
        images = dataset.images[idx]
        if augment:
            images = augment_batch(images, generator)
        yield normalize(images), dataset.labels[idx]


def augment_batch(images: torch.Tensor, generator: torch.Generator | None, pad: int | None = None) -> torch.Tensor:
    """Standard small-image augmentation on a uint8 batch: random crop after zero padding + horizontal flip."""
    n, c, h, w = images.shape
    pad = max(1, h // 8) if pad is None else pad
    padded = F.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    cols = dx[:, None] + torch.arange(w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    rows = dy[:, None] + torch.arange(h)
    # One gather over flattened pixels: 5x faster than 4-way advanced indexing.
    flat = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).view(n, 1, h * w).expand(n, c, h * w)
    return padded.view(n, c, -1).gather(2, flat).view(n, c, h, w)


# ---------------------------------------------------------------------------- fitting

def fit_to_size(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C, size, size): centre zero-pad when it fits, else resize."""
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    if h <= size and w <= size:
        top, left = (size - h) // 2, (size - w) // 2
        return F.pad(images, (left, size - w - left, top, size - h - top))
    resized = F.interpolate(images.to(torch.float32), size=(size, size), mode="bilinear",
                            align_corners=False, antialias=True)
    return resized.round().clamp(0, 255).to(torch.uint8)


def convert_channels(images: torch.Tensor, in_channels: int | None) -> torch.Tensor:
    """Grayscale <-> RGB on a uint8 batch."""
    c = images.shape[1]
    if in_channels is None or in_channels == c:
        return images
    if c == 1 and in_channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and in_channels == 1:
        # Pillow's fixed-point ITU-R 601 luma, so folder and tensor conversions agree bit for bit.
        weights = torch.tensor([19595, 38470, 7471], dtype=torch.int64).view(1, 3, 1, 1)
        return ((images.to(torch.int64) * weights).sum(1, keepdim=True) + 0x8000).bitwise_right_shift(16).to(torch.uint8)
    raise FlynetError(f"cannot convert {c}-channel images to {in_channels} channels; use 1 or 3")


def _info(num_classes: int, class_names: list[str], in_channels: int, input_size: int, source: str,
          split: str, source_channels: int = 0, source_size: Sequence[int] = ()) -> DataInfo:
    return DataInfo(num_classes=num_classes, class_names=class_names, in_channels=in_channels,
                    input_size=input_size, mean=[PIXEL_MEAN] * in_channels, std=[PIXEL_STD] * in_channels,
                    source=source, split=split, source_channels=source_channels, source_size=list(source_size))


# ---------------------------------------------------------------------------- IDX

def _idx_file(root: Path, split: str, kind: str) -> Path | None:
    ndim = 3 if kind == "images" else 1
    stem = f"{IDX_PREFIXES[split]}-{kind}-idx{ndim}-ubyte"
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def read_idx(path: Path, expect_ndim: int) -> np.ndarray:
    """An IDX file (gzip or not) as a uint8 array; FlynetError naming the file if it is corrupt."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise FlynetError(f"cannot read IDX file {path}: {exc}; replace it with an intact copy") from None
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    expected_magic = (IDX_UBYTE << 8) | expect_ndim
    if magic != expected_magic:
        raise FlynetError(f"corrupt IDX header in {path}: magic {magic:#x}, expected {expected_magic:#x}; "
                          "replace it with an intact copy")
    header_len = 4 + 4 * expect_ndim
    if len(raw) < header_len:
        raise FlynetError(f"corrupt IDX header in {path}: file ends inside the header; replace it with an intact copy")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(expect_ndim)]
    expected_len = header_len + int(np.prod(dims))
    if len(raw) != expected_len:
        raise FlynetError(f"corrupt IDX file {path}: header says {'x'.join(map(str, dims))} "
                          f"({expected_len} bytes) but the file has {len(raw)}; replace it with an intact copy")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip when the name ends in .gz), atomically."""
    from ..reporting import atomic_write_bytes

    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = ((IDX_UBYTE << 8) | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    atomic_write_bytes(path, gzip.compress(data, mtime=0) if str(path).endswith(".gz") else data)


def _load_idx(root: Path, split: str, input_size: int, in_channels: int | None) -> ImageDataset:
    images_path = _idx_file(root, split, "images")
    labels_path = _idx_file(root, split, "labels")
    if labels_path is None:
        raise FlynetError(f"{images_path} has no label file beside it; add "
                          f"{IDX_PREFIXES[split]}-labels-idx1-ubyte[.gz] to {root}")
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise FlynetError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
                          "labels; the files do not belong together")
    tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    tensor = fit_to_size(convert_channels(tensor, in_channels), input_size)
    label_tensor = torch.from_numpy(labels.astype(np.int64))
    num_classes = int(label_tensor.max()) + 1 if len(label_tensor) else 0
    info = _info(num_classes, [str(c) for c in range(num_classes)], tensor.shape[1], input_size, str(root), split,
                 source_channels=1, source_size=images.shape[1:])
    return ImageDataset(tensor, label_tensor, info)


# ---------------------------------------------------------------------------- class folders

def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _load_class_folders(root: Path, split: str, input_size: int, in_channels: int | None) -> ImageDataset:
    has_splits = (root / "train").is_dir() and (root / "test").is_dir()
    class_root = root / "train" if has_splits else root
    class_names = [d.name for d in _class_dirs(class_root)]
    if not class_names:
        raise FlynetError(f"no IDX files and no class folders in {root}; pass a directory with "
                          "train-images-idx3-ubyte[.gz] or one sub-folder of images per class")
    for name in class_names:
        if not _images_in(class_root / name):
            raise FlynetError(f"class folder {class_root / name} has no images; add images or remove the folder")
    split_root = root / split if has_splits else root
    unknown = sorted({d.name for d in _class_dirs(split_root)} - set(class_names))
    if unknown:
        raise FlynetError(f"{split_root} has classes {unknown} that {class_root} lacks; give both splits the same class folders")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(class_names):
        members = _images_in(split_root / name) if (split_root / name).is_dir() else []
        if not has_splits:
            held_out = split == "test"
            members = [p for i, p in enumerate(members) if (i % FLAT_TREE_TEST_EVERY == FLAT_TREE_TEST_EVERY - 1) == held_out]
        files += members
        labels += [label] * len(members)
    if not files:
        raise FlynetError(f"no {split} images under {split_root}; add images to the class folders")
    images, source_channels, source_size = _read_images(files, in_channels, input_size)
    info = _info(len(class_names), class_names, images.shape[1], input_size, str(root), split, source_channels,
                 source_size)
    return ImageDataset(images, torch.tensor(labels), info, [str(p.relative_to(root)) for p in files])


def _read_images(files: list[Path], in_channels: int | None, input_size: int) -> tuple[torch.Tensor, int, list[int]]:
    """Decode with Pillow, then fit each group of equal-sized images in one tensor op: (images, the stored
    channels, the stored size where every image has the same, else [])."""
    from PIL import Image, UnidentifiedImageError

    arrays = []
    for path in files:
        try:
            with Image.open(path) as img:
                arrays.append(np.asarray(img.convert("L" if img.mode in ("L", "1", "I;16", "I") else "RGB")))
        except (OSError, UnidentifiedImageError) as exc:
            raise FlynetError(f"cannot read image {path}: {exc}; replace or remove it") from None
    stored_channels = 3 if any(a.ndim == 3 for a in arrays) else 1
    channels = in_channels or stored_channels
    out = torch.empty((len(arrays), channels, input_size, input_size), dtype=torch.uint8)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, a in enumerate(arrays):
        by_shape.setdefault(a.shape, []).append(i)
    for shape, members in by_shape.items():
        stacked = torch.from_numpy(np.stack([arrays[i] for i in members]))
        stacked = stacked.unsqueeze(1) if len(shape) == 2 else stacked.permute(0, 3, 1, 2)
        out[torch.tensor(members)] = fit_to_size(convert_channels(stacked, channels), input_size)
    sizes = {a.shape[:2] for a in arrays}
    return out, stored_channels, list(next(iter(sizes))) if len(sizes) == 1 else []


__all__ = ["DataInfo", "ImageDataset", "check_matches_model", "load_dataset", "synthetic_dataset", "iterate_batches", "augment_batch",
           "normalize", "fit_to_size", "convert_channels", "read_idx", "write_idx", "PIXEL_MEAN", "PIXEL_STD"]
