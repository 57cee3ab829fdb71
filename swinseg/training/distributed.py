"""Data order and batch statistics under ``torchrun`` (single process when not launched by it).

The data order is a pure function of (seed, position in the sample stream): the stream is epoch after epoch of
seeded permutations of the dataset, and every item carries its own augmentation seed. One optimizer step of a
global batch G takes the next G items; each process takes its slice of each micro-batch. So a run resumed at
iteration t starts at stream position t * G, and 2 processes with 2 images each see exactly the images (and
augmentations) of 1 process with 4.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn

from swinseg.core.processes import DistInfo

__all__ = ["StreamSampler", "SyncBatchNormCPU", "convert_sync_batchnorm"]


class StreamSampler(torch.utils.data.Sampler):
    """Endless ``(index, augmentation_seed)`` items for one process, starting at global position ``start``.

    micro_batch: images per process per forward pass. Micro-batch u of the run covers stream positions
    ``[u * world * micro_batch, (u + 1) * world * micro_batch)``; process r takes the r-th slice of it.
    """

    def __init__(self, dataset_len: int, micro_batch: int, seed: int, info: DistInfo, start: int = 0):
        self.n, self.micro_batch, self.seed, self.info, self.start = dataset_len, micro_batch, seed, info, start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        span = self.info.world_size * self.micro_batch
        if self.start % span:
            raise ValueError(f"stream position {self.start} is not on a micro-batch boundary ({span})")
        position = self.start + self.info.rank * self.micro_batch
        cache: tuple[int, torch.Tensor] | None = None  # (epoch, permutation): one permutation per epoch
        while True:
            for offset_in_slice in range(self.micro_batch):
                p = position + offset_in_slice
                epoch, offset = divmod(p, self.n)
                if cache is None or cache[0] != epoch:
                    g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
                    cache = (epoch, torch.randperm(self.n, generator=g))
                yield int(cache[1][offset]), (self.seed << 32) + p
            position += span


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes, differentiably: each process's input receives the sum of every process's gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SyncBatchNormCPU(nn.BatchNorm2d):
    """BatchNorm whose training statistics cover the whole global batch, for gloo / CPU processes (PyTorch's
    ``SyncBatchNorm`` runs on CUDA only). Sums of x and x^2 are all-reduced with autograd, in float64."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        c = x.shape[1]
        x64 = x.double()
        local = torch.cat([x64.sum((0, 2, 3)), (x64 * x64).sum((0, 2, 3)), x64.new_tensor([x.numel() // c])])
        total = _AllReduceSum.apply(local)
        count = total[-1]
        mean = total[:c] / count
        var = total[c : 2 * c] / count - mean * mean  # biased, as used for normalising
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.lerp_(mean.to(self.running_mean.dtype), self.momentum)
            unbiased = var * count / (count - 1).clamp(min=1)
            self.running_var.lerp_(unbiased.to(self.running_var.dtype), self.momentum)
        scale = (self.weight.double() * torch.rsqrt(var + self.eps)).to(x.dtype)
        shift = (self.bias.double() - mean * self.weight.double() * torch.rsqrt(var + self.eps)).to(x.dtype)
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm2d -> a synchronised one (``nn.SyncBatchNorm`` on CUDA, :class:`SyncBatchNormCPU` else;
    on CPU only affine BatchNorms with a momentum, which is every BatchNorm swinseg builds)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d and child.affine and child.momentum is not None:
            sync = SyncBatchNormCPU(child.num_features, child.eps, child.momentum, child.affine)
            sync.load_state_dict(child.state_dict())
            setattr(model, name, sync)
        else:
            convert_sync_batchnorm(child, device)
    return model
