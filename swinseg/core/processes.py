"""This process among the ``torchrun`` processes (a single process when not launched by it), its device, and
what its CPU can do (the instruction-set flags that decide which kernels pay).

Every stage that splits work over processes (training, evaluation, prediction) asks :func:`init_distributed`
for a :class:`DistInfo` and takes its :func:`shard` of the items.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "cpu_flags", "cpu_has_native_bf16", "distributed", "init_distributed", "pick_device", "shard"]


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``avx2``, ``avx512_bf16``, ``amx_bf16`` ...) from Linux's /proc/cpuinfo; empty
    where there is none."""
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return frozenset()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX); elsewhere bf16 is emulated and
    slower than fp32."""
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


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


@contextmanager
def distributed(device: str = "auto") -> Iterator[tuple[DistInfo, torch.device]]:
    """:func:`init_distributed` for a ``with`` block; the process group is left at the block's end if the block
    joined it. A gloo group left to the interpreter's exit can abort a process while its threads are torn down
    ("terminate called without an active exception", exit status -6), and torchrun then reports a failed run
    after the work is done (seen about once in 20 two-process training runs)."""
    joins = dist.is_available() and not dist.is_initialized()
    info, device_ = init_distributed(device)
    try:
        yield info, device_
    finally:
        if joins and dist.is_initialized():
            dist.destroy_process_group()


def shard(n: int, info: DistInfo) -> list[int]:
    """This process's share of ``range(n)`` for evaluation: strided, no padding, no duplicates."""
    return list(range(info.rank, n, info.world_size))
