"""Scale-out under torchrun: one process per rank, DistributedDataParallel, gloo on CPU, nccl on GPU.

`python -m torch.distributed.run --nproc_per_node N -m runtime train FILE` sets the rank
variables; `World.from_env()` joins the group. Each rank takes its share of every global batch
(the global batch size stays the setting), gradients are averaged by DDP, reported losses by an
all-reduce, and only rank 0 writes the store and prints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass
class World:
    rank: int
    size: int
    local_rank: int
    backend: str

    @classmethod
    def from_env(cls, device: str = "auto") -> "World | None":
        """The torchrun group this process belongs to, or None when it runs alone."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return None
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        backend = "nccl" if device in ("auto", "cuda") and torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            dist.init_process_group(backend)
        return cls(dist.get_rank(), dist.get_world_size(), local_rank, backend)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        ids = [self.local_rank] if self.backend == "nccl" else None
        return DistributedDataParallel(model, device_ids=ids)

    def average(self, values: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(values)
        return values / self.size

    def close(self) -> None:
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
