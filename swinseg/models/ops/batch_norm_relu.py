"""``relu(batch_norm(x))`` in training that keeps only ``x`` for the backward pass, not the output.

Autograd keeps BatchNorm's input (for its backward) and the ReLU's output (for the ReLU's backward): two maps per
conv block. Where the block's consumer keeps nothing of the output (an addition, a dropout, a padded copy), the
second one is held for the ReLU alone; here the backward finds where the output was positive from ``x`` and the
batch statistics instead. In a UPerNet Swin-T training step (batch 2, 512x512) that is about 150 MB of the
head's stride-4 and stride-8 maps. The backward recomputes the normalised map in one elementwise pass
(``x * invstd * weight + bias - mean * invstd * weight``; it can differ from the forward's rounding only for
values within a few ulps of zero, where the ReLU's derivative is a matter of convention) and then runs PyTorch's own
kernels (``threshold_backward``, ``native_batch_norm_backward``): values, gradients and running statistics are
those of ``nn.BatchNorm2d`` + ``nn.ReLU``.
"""

from __future__ import annotations

import torch
from torch import nn

from swinseg.models.ops.eager_autograd import eager_autograd

__all__ = ["batch_norm_relu"]


def _channel(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(C,) -> (C, 1, ..., 1), broadcastable against a (B, C, ...) tensor."""
    return v.view(-1, *([1] * (x.dim() - 2)))


class _BatchNormReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):  # noqa: ANN001, ANN205
        out, mean, invstd = torch.ops.aten.native_batch_norm(
            x, weight, bias, running_mean, running_var, True, momentum, eps
        )  # (B, C, ...), (C,), (C,); the running statistics updated in place
        ctx.save_for_backward(x, weight, bias, mean, invstd)
        ctx.eps = eps
        return out.relu_()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # noqa: ANN001, ANN205
        x, weight, bias, mean, invstd = ctx.saved_tensors
        # the normalised output again, in one pass: x * (invstd * weight) + (bias - mean * invstd * weight)
        scale = invstd * weight
        normed = torch.addcmul(_channel(bias - mean * scale, x), x, _channel(scale, x))
        # the incoming gradient, zero where the ReLU cut, written over the recomputed map (one buffer, not two)
        grad_normed = torch.ops.aten.threshold_backward.grad_input(grad_out, normed, 0, grad_input=normed)
        wanted = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]]
        grad_x, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            grad_normed, x, weight, None, None, mean, invstd, True, ctx.eps, wanted
        )
        return grad_x, grad_weight, grad_bias, None, None, None, None


def _fusable(x: torch.Tensor, bn: nn.Module) -> bool:
    """Training a plain affine ``nn.BatchNorm2d`` with running statistics, in eager autograd without autocast."""
    if type(bn) is not nn.BatchNorm2d or not (bn.training and bn.affine and bn.track_running_stats):
        return False
    return eager_autograd(x.device.type)


def batch_norm_relu(x: torch.Tensor, bn: nn.Module) -> torch.Tensor:
    """``F.relu(bn(x))`` for a (B, C, H, W) map, keeping only ``x`` for backward where that applies (see the module
    docstring); otherwise, and in every other mode (evaluation, SyncBatchNorm, autocast, tracing), the plain
    expression."""
    if not _fusable(x, bn):
        return torch.relu_(bn(x))
    bn.num_batches_tracked.add_(1)  # what nn.BatchNorm2d.forward does in training
    momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    return _BatchNormReLU.apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, momentum, bn.eps)
