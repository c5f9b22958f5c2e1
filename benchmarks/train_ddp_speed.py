"""End-to-end `flynet-tiny train` images/second: one process (1 or 2 threads) vs torchrun with 2 ranks.

Usage: python benchmarks/train_ddp_speed.py [--model flynet-h3-0.5] [--images 2048] [--epochs 1]

Trains on a synthetic 28x28 IDX set (padded to 32x32) so every configuration sees the same data;
images/second is the trainer's own per-epoch figure from metrics.json (training loop only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flynet_tiny.reporting import format_table
from flynet_tiny.data.datasets import synthetic_dataset, write_idx


def write_data(root: Path, images: int) -> None:
    for split, prefix, n in (("train", "train", images), ("test", "t10k", max(64, images // 8))):
        ds = synthetic_dataset(n, input_size=28, in_channels=1, num_classes=10, seed=0, split=split)
        write_idx(root / f"{prefix}-images-idx3-ubyte", ds.images[:, 0].numpy())
        write_idx(root / f"{prefix}-labels-idx1-ubyte", ds.labels.numpy().astype("uint8"))


def run(label: str, launcher: list[str], args: list[str], out: Path) -> list:
    start = time.perf_counter()
    subprocess.run([*launcher, "train", *args, "--out", str(out), "--json"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    rate = sum(e["images_per_second"] for e in metrics["epochs"]) / len(metrics["epochs"])
    return [label, metrics["world_size"], rate, wall]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="flynet-h3-0.5")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    opts = parser.parse_args()

    cli = [sys.executable, "-m", "flynet_tiny.cli"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "flynet_tiny.cli"]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_data(root / "data", opts.images)
        args = [opts.model, "--data", str(root / "data"), "--epochs", str(opts.epochs), "--batch-size",
                str(opts.batch_size)]
        rows = [run("1 process, 1 thread", cli, [*args, "--workers", "1"], root / "p1t1"),
                run("1 process, 2 threads", cli, [*args, "--workers", "2"], root / "p1t2"),
                run("torchrun 2 ranks x 1 thread", torchrun, [*args, "--workers", "1"], root / "ddp2")]
    base = rows[0][2]
    table = [[label, world, rate, f"{rate / base:.2f}x", wall] for label, world, rate, wall in rows]
    print(format_table(["configuration", "ranks", "train img/s", "vs 1 thread", "command wall s"], table, "lrrrr"))
    print(f"{opts.model}, {opts.images} images x {opts.epochs} epoch(s), batch {opts.batch_size} per rank; "
          f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
