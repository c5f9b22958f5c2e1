"""Data-parallel training under `torchrun`: the same code path runs with one process or many."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def is_main_process() -> bool:
    """True outside torchrun and on rank 0: the one process that writes files and prints reports."""
    return int(os.environ.get("RANK", "0")) == 0


def setup_distributed() -> DistContext:
    """Join the process group when `torchrun` set WORLD_SIZE > 1 (gloo on CPU, nccl on GPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(0, 1, torch.device("cpu"))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistContext(rank, world_size, device)


def teardown_distributed(ctx: DistContext) -> None:
    if ctx.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def sum_across_ranks(ctx: DistContext, values: list[float]) -> list[float]:
    """Element-wise sum of per-rank statistics (float64 keeps counts exact)."""
    if not ctx.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def sync_buffers(ctx: DistContext, model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running stats) to every rank so all ranks hold one model."""
    if not ctx.active:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def shard_indices(ctx: DistContext, count: int) -> torch.Tensor:
    """This rank's share of `count` items for evaluation: every world_size-th, no padding."""
    return torch.arange(ctx.rank, count, ctx.world_size)
