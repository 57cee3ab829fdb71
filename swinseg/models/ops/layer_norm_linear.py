"""``linear(layer_norm(x))`` that keeps ``x`` and the row statistics for backward, not the normalised ``x``.

Autograd keeps the LayerNorm's input (for its backward) and its output (for the linear layer's weight gradient):
two copies of the block's width per token. Here the backward pass normalises ``x`` again (one elementwise pass,
the same kernel and so the same values) and then runs PyTorch's own LayerNorm backward. In a Swin block the
MLP's ``norm2 -> fc1`` is such a pair; in a UPerNet Swin-T training step (batch 2, 512x512) that is 57 MB.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from swinseg.models.ops.eager_autograd import eager_autograd

__all__ = ["layer_norm_linear"]


class _LayerNormLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, norm_weight, norm_bias, eps, weight, bias):  # noqa: ANN001, ANN205
        shape = (x.shape[-1],)
        normed, mean, rstd = torch.ops.aten.native_layer_norm(x, shape, norm_weight, norm_bias, eps)
        ctx.save_for_backward(x, norm_weight, norm_bias, mean, rstd, weight)
        ctx.eps, ctx.has_bias = eps, bias is not None
        return F.linear(normed, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # noqa: ANN001, ANN205
        x, norm_weight, norm_bias, mean, rstd, weight = ctx.saved_tensors
        shape = (x.shape[-1],)
        grad_out_2d = grad_out.reshape(-1, grad_out.shape[-1])  # (tokens, out)
        grad_weight = grad_bias = None
        if ctx.needs_input_grad[4]:
            normed = torch.ops.aten.native_layer_norm(x, shape, norm_weight, norm_bias, ctx.eps)[0]
            grad_weight = grad_out_2d.T @ normed.reshape(-1, shape[0])  # (out, tokens) @ (tokens, in)
            del normed
        if ctx.has_bias and ctx.needs_input_grad[5]:
            grad_bias = grad_out_2d.sum(0)
        grad_x = grad_norm_weight = grad_norm_bias = None
        if any(ctx.needs_input_grad[:3]):
            grad_normed = grad_out @ weight  # (..., in)
            wanted = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]]
            grad_x, grad_norm_weight, grad_norm_bias = torch.ops.aten.native_layer_norm_backward(
                grad_normed, x, shape, mean, rstd, norm_weight, norm_bias, wanted
            )
        return grad_x, grad_norm_weight, grad_norm_bias, None, grad_weight, grad_bias


def layer_norm_linear(x: torch.Tensor, norm: nn.Module, layer: nn.Module) -> torch.Tensor:
    """``layer(norm(x))`` for (..., in) tokens, keeping only ``x`` (and two numbers a token) for backward where that
    applies: a plain affine ``nn.LayerNorm`` over the last dimension and a plain ``nn.Linear``, in fp32 / fp64
    eager autograd without autocast. Anything else is the plain expression."""
    fused = type(norm) is nn.LayerNorm and type(layer) is nn.Linear and norm.elementwise_affine
    fused = fused and norm.weight is not None and norm.bias is not None and len(norm.normalized_shape) == 1
    if not (fused and eager_autograd(x.device.type)):
        return layer(norm(x))
    return _LayerNormLinear.apply(x, norm.weight, norm.bias, norm.eps, layer.weight, layer.bias)
