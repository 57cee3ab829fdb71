"""This process among the ``torchrun`` processes (a single process when not launched by it), and its device.

Every stage that splits work over processes (training, evaluation, prediction) asks :func:`init_distributed`
for a :class:`DistInfo` and takes its :func:`shard` of the items.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "pick_device", "shard"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when there is a GPU, else the CPU; any other name as torch reads it (``cuda:1``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def init_distributed(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the ``torchrun`` process group if launched by it (NCCL on CUDA, gloo on CPU); pick the device
    (:func:`pick_device`; a bare ``cuda`` becomes this process's GPU, ``cuda:LOCAL_RANK``)."""
    device = str(pick_device(device)) if device == "auto" else device
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ.get("RANK", "0")), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if device == "cuda":
        torch.cuda.set_device(info.local_rank)
        device = f"cuda:{info.local_rank}"
    if info.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return info, torch.device(device)


def shard(n: int, info: DistInfo) -> list[int]:
    """This process's share of ``range(n)`` for evaluation: strided, no padding, no duplicates."""
    return list(range(info.rank, n, info.world_size))
