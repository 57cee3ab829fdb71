"""Attention with a learned additive bias (Swin's relative position bias, plus the SW-MSA mask) for training on
the CPU, keeping q, k, v and the output for backward but not the attention weights.

With a bias that needs a gradient, ``F.scaled_dot_product_attention`` on the CPU leaves its fused (flash) kernel
for the unfused math path, whose autograd keeps copies of q, k and v and the softmax weights (windows, heads, N,
N): 1.5x the block's width per token at M = 7. Here the forward pass is the flash kernel (the bias detached)
and keeps the qkv projection's output itself, the attention output (which the next projection keeps anyway:
the same storage) and the row log-sum-exps; the backward pass is written out:

    P  = exp(q k^T * scale + bias + mask - logsumexp)      the weights again, from the kernel's log-sum-exps
    dv = P^T do;  dP = do v^T;  dS = P * (dP - rowsum(do * out))
    dq = dS k * scale;  dk = dS^T q * scale;  dbias = dS summed over all sequences

In a UPerNet Swin-T training step (batch 2, 512x512, Xeon) autograd keeps 1377 MB instead of 1471 MB (parameters
not counted), and the step is no slower. Only fp32 / fp64 on the CPU without autocast take this path
(:func:`biased_attention` makes the plain call otherwise).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from swinseg.models.ops.eager_autograd import eager_autograd

__all__ = ["biased_attention"]


def _attention_mask(bias: torch.Tensor, mask: torch.Tensor | None, sequences: int) -> torch.Tensor:
    """The additive mask the flash kernel takes for ``sequences`` = B * n sequences: the bias for all (batch dim
    1, broadcast), or bias + mask per window, repeated for every image (B consecutive blocks of n windows)."""
    if mask is None:
        return bias  # (1, heads, N, N)
    biased = bias + mask  # (n, heads, N, N)
    n = biased.shape[0]
    if n == sequences:
        return biased
    # (n, heads, N, N) -> (B, n, heads, N, N) -> (B * n, heads, N, N)
    return biased.unsqueeze(0).expand(sequences // n, -1, -1, -1, -1).reshape(sequences, *biased.shape[1:])


class _BiasedAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, qkv: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor | None,
                scale: float) -> torch.Tensor:  # fmt: skip
        q, k, v = qkv.unbind(0)  # (S, heads, N, d) each
        out, logsumexp = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, False, attn_mask=_attention_mask(bias.detach(), mask, q.shape[0]), scale=scale
        )  # (S, heads, N, d) in (S, N, heads, d) memory, (S, heads, N)
        ctx.save_for_backward(qkv, bias, mask, out, logsumexp)
        ctx.scale = scale
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, None, None]:
        qkv, bias, mask, out, logsumexp = ctx.saved_tensors
        q, k, v = qkv.unbind(0)
        S, heads, N, _ = q.shape
        # the attention weights again: (S, heads, N, N)
        probs = torch.matmul(q, k.transpose(-2, -1)).mul_(ctx.scale).add_(_attention_mask(bias, mask, S))
        probs.sub_(logsumexp.unsqueeze(-1)).exp_()
        grad_qkv = torch.empty_like(qkv)
        torch.matmul(probs.transpose(-2, -1), grad_out, out=grad_qkv[2])  # dv
        grad_scores = torch.matmul(grad_out, v.transpose(-2, -1))  # dP, then dS in place
        grad_scores.sub_((grad_out * out).sum(-1, keepdim=True)).mul_(probs)
        del probs
        torch.matmul(grad_scores, k, out=grad_qkv[0]).mul_(ctx.scale)  # dq
        torch.matmul(grad_scores.transpose(-2, -1), q, out=grad_qkv[1]).mul_(ctx.scale)  # dk
        grad_bias = None
        if ctx.needs_input_grad[1]:  # summed over all sequences, the bias being one for all
            grad_bias = grad_scores.sum(0, keepdim=True)
        return grad_qkv, grad_bias, None, None


def biased_attention(qkv: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor | None = None,
                     scale: float | None = None) -> torch.Tensor:  # fmt: skip
    """Softmax attention ``softmax(q k^T * scale + bias + mask) v`` for each sequence and head.

    Args:
        qkv: (3, S, heads, N, d) queries, keys and values of S sequences (a view of the qkv projection is fine).
        bias: (1, heads, N, N), the same for all sequences; it may need a gradient.
        mask: None, or a constant (n, 1, N, N) per window for S = B * n sequences ordered image by image.
        scale: the score scale, ``d ** -0.5`` by default.
    Returns:
        (S, heads, N, d).
    """
    scale = qkv.shape[-1] ** -0.5 if scale is None else scale
    fused = (qkv.requires_grad or bias.requires_grad) and eager_autograd(qkv.device.type)
    fused = fused and qkv.device.type == "cpu" and qkv.dtype in (torch.float32, torch.float64)
    if not (fused and bias.dtype == qkv.dtype):
        attn_mask = _attention_mask(bias, mask, qkv.shape[1]).to(qkv.dtype)
        return F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attn_mask, scale=scale)
    return _BiasedAttention.apply(qkv, bias, None if mask is None else mask.to(qkv.dtype), scale)
