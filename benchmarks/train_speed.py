"""Training images/second on this machine: data pipeline, and FlyNet train steps by threads and memory layout.

Usage: python benchmarks/train_speed.py [--data ../shared/datasets/fashion-mnist] [--models flynet-h3-0.5,flynet-h3-0.25]
       [--steps 8] [--batch-size 64]

Prints wall-clock and CPU-time rates (the machine is shared: CPU time shows what the code costs,
wall time what a user waits), each as a ratio to 1 thread, channels-first.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from flynet_tiny.models import build_model
from flynet_tiny.reporting import format_table
from flynet_tiny.data.datasets import iterate_batches, load_dataset

REPO = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) for `repeats` calls of fn."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def data_rates(dataset, batch_size: int) -> list[list]:
    rows = []
    for augment in (False, True):
        generator = torch.Generator().manual_seed(0)
        order = torch.randperm(len(dataset), generator=generator)
        wall, cpu = timed(lambda: [None for _ in iterate_batches(dataset, order, batch_size, augment, generator)], 1)
        rows.append(["augment + normalise" if augment else "normalise", len(dataset) / wall, len(dataset) / cpu])
    return rows


def step_rates(name: str, images: torch.Tensor, labels: torch.Tensor, steps: int) -> list[list]:
    rows, baseline = [], None
    for threads in (1, 2):
        for channels_last in (False, True):
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            model = build_model(name, num_classes=10, input_size=images.shape[-1], in_channels=images.shape[1])
            x = images
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

            def step():
                loss = torch.nn.functional.cross_entropy(model(x), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

            timed(step, 2)  # warm-up: first steps allocate and pick kernels
            wall, cpu = timed(step, steps)
            rate_wall, rate_cpu = steps * len(labels) / wall, steps * len(labels) / cpu
            baseline = baseline or (rate_wall, rate_cpu)
            rows.append([name, threads, "channels_last" if channels_last else "channels_first", rate_wall,
                         f"{rate_wall / baseline[0]:.2f}x", rate_cpu, f"{rate_cpu / baseline[1]:.2f}x"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" / "fashion-mnist"))
    parser.add_argument("--models", default="flynet-h3-0.5,flynet-h3-0.25")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=32)
    args = parser.parse_args()

    load_wall = time.perf_counter()
    dataset = load_dataset(args.data, "train", input_size=args.input_size)
    load_wall = time.perf_counter() - load_wall
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; torch {torch.__version__}")
    print(f"loaded {len(dataset)} images from {args.data} at {args.input_size}x{args.input_size} in {load_wall:.2f} s\n")
    torch.set_num_threads(1)
    print(format_table(["data pipeline (1 thread)", "img/s wall", "img/s cpu"], data_rates(dataset, args.batch_size)))
    print()

    generator = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(dataset), generator=generator)[:args.batch_size]
    x, y = next(iterate_batches(dataset, idx, args.batch_size))
    rows = []
    for name in args.models.split(","):
        rows += step_rates(name, x, y, args.steps)
    print(format_table(["model", "threads", "layout", "img/s wall", "vs base", "img/s cpu", "vs base"], rows,
                       "lrlrrrr"))
    print(f"\nbatch {args.batch_size}, {args.steps} timed SGD steps each; load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
