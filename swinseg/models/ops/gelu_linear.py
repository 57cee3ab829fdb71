"""``linear(gelu(h))`` that keeps only ``h`` for the backward pass: the MLP of a Swin block without its
second hidden-sized activation.

Autograd would keep both the GELU's input (for GELU's backward) and its output (for the weight gradient of
the second linear layer), each 4x the block's width. Recomputing the GELU in the backward pass costs one
elementwise op and saves one of them: in a Swin-T training step at 512x512, batch 2, ~220 MB.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from swinseg.models.ops.eager_autograd import eager_autograd

__all__ = ["gelu_linear"]


class _GeluLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias):  # noqa: ANN001, ANN205
        ctx.save_for_backward(hidden, weight)
        ctx.has_bias = bias is not None
        return F.linear(F.gelu(hidden), weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # noqa: ANN001, ANN205
        hidden, weight = ctx.saved_tensors
        grad_hidden = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_hidden = torch.ops.aten.gelu_backward(grad_out @ weight, hidden)  # (..., hidden)
        if ctx.needs_input_grad[1]:
            # (out, ...) @ (..., hidden) over all leading dims, the GELU recomputed
            grad_weight = grad_out.reshape(-1, grad_out.shape[-1]).T @ F.gelu(hidden).reshape(-1, hidden.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.reshape(-1, grad_out.shape[-1]).sum(0)
        return grad_hidden, grad_weight, grad_bias


def gelu_linear(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear(F.gelu(hidden), weight, bias)`` (exact GELU), saving only ``hidden`` when it needs gradients.

    The plain expression is used where the saving does not apply or the Function cannot go: without
    gradients, under autocast (mixed dtypes) and while tracing, scripting or compiling (:mod:`.eager_autograd`)."""
    if not eager_autograd(hidden.device.type):
        return F.linear(F.gelu(hidden), weight, bias)
    return _GeluLinear.apply(hidden, weight, bias)
