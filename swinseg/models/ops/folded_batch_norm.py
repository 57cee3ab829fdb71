"""A convolution followed by a BatchNorm in evaluation mode, as one convolution with a bias.

Evaluating, a BatchNorm is a fixed affine map per channel, ``(y - mean) * s + beta`` with ``s = gamma /
sqrt(var + eps)``; after a convolution it folds into that convolution's weight and bias: ``W * s`` (per output
channel) and ``(b - mean) * s + beta``. The block's output map is then written once instead of twice, and the
ReLU after it runs in place: for the U-Net's 16-channel maps at full resolution and UPerNet's 512-channel maps
at stride 4, a pass over tens of MB less per block. Same result up to float rounding. (PyTorch's
``torch.nn.utils.fusion.fuse_conv_bn_weights`` computes the same, but returns new ``nn.Parameter``s for a fused
module; here the folded tensors are derived at inference and kept by
:class:`~swinseg.models.ops.derived_weights.DerivedWeights`, next to the unchanged modules.)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["fold_batch_norm", "fold_sources", "foldable"]


def foldable(norm: nn.Module) -> bool:
    """Whether ``norm`` is a BatchNorm2d normalising with its running statistics (evaluation mode) while nothing
    records gradients or traces: where it folds into the convolution before it."""
    if type(norm) is not nn.BatchNorm2d or norm.training or not norm.track_running_stats:
        return False
    return not (torch.is_grad_enabled() or torch.jit.is_tracing() or torch.jit.is_scripting())


def fold_batch_norm(weight: torch.Tensor, bias: torch.Tensor | None,
                    norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """A convolution's (O, C, kh, kw) weight and (O,) bias (or None) and the BatchNorm2d after it -> the weight
    (in ``weight``'s memory format) and bias of one convolution computing both."""
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale if bias is None else (bias - norm.running_mean) * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), shift


def fold_sources(conv: nn.Conv2d, norm: nn.Module) -> tuple[torch.Tensor | None, ...]:
    """The tensors a folded ``conv`` + ``norm`` comes from: what a kept fold is checked against
    (:class:`~swinseg.models.ops.derived_weights.DerivedWeights`)."""
    return conv.weight, conv.bias, *norm.parameters(), *norm.buffers()
