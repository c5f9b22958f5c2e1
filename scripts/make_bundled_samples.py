"""Write flynet_tiny/pretrained/fashion-mnist-samples/: the first N train and test images of
Fashion-MNIST (MIT, Zalando SE) as gzip IDX files, so the bundled model can be verified and
benchmarked on real images without the dataset.

    python3 scripts/make_bundled_samples.py ../shared/datasets/fashion-mnist --count 256
"""

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "flynet_tiny" / "pretrained" / "fashion-mnist-samples"


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4:4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    # mtime=0: the same samples give the same bytes
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--count", type=int, default=256)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        for kind, magic_dims in (("images", 3), ("labels", 1)):
            name = f"{split}-{kind}-idx{magic_dims}-ubyte.gz"
            write_idx(OUT / name, read_idx(args.dataset / name)[:args.count])
    print(f"wrote {args.count} train + {args.count} test images to {OUT}")


if __name__ == "__main__":
    main()
