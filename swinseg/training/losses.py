"""Training losses, and cross-entropy on logits bilinearly upsampled to the label size without holding them.

mmsegmentation (and Hugging Face's UperNet) compute the loss by resizing the head's stride-4 logits to the
label size, then taking the per-pixel cross-entropy. At 512x512 with 150 classes that full-size map, its
log-softmax and both their gradients are 4 x 157 MB per image and head: most of a training step's peak
memory. :func:`upsampled_cross_entropy` computes the same number slab by slab (a few rows of the upsampled
map at a time) and keeps only the gradient with respect to the small logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from swinseg.core.memory import SLAB_ELEMENTS
from swinseg.models.ops.resize import interpolation_matrix, resize, rows_read
from swinseg.training.config import TrainConfig

__all__ = ["build_loss", "upsampled_cross_entropy"]


class _UpsampledCrossEntropy(torch.autograd.Function):
    """Sum over pixels of ``F.cross_entropy(resize(logits, labels.shape[1:]), labels, reduction="none")``.

    The upsampled map is ``Ry @ logits @ Rx.T`` (per image and class; ``Ry`` (H, h) and ``Rx`` (W, w) from
    :func:`interpolation_matrix`), made a slab of output rows at a time: a slab reads only the few logit rows
    its rows of ``Ry`` touch. The gradient with respect to ``logits`` is computed slab by slab in the forward
    pass, while each slab is in cache, and summed into one tensor as small as the logits; backward scales it."""

    @staticmethod
    def forward(ctx, logits, labels, weight, ignore_index):  # noqa: ANN001, ANN205
        n, k, h, w = logits.shape
        height, width = labels.shape[1:]
        ry = interpolation_matrix(h, height, logits.dtype, logits.device)  # (H, h)
        rx_t = interpolation_matrix(w, width, logits.dtype, logits.device).T  # (w, W)
        rows_per_slab = max(1, SLAB_ELEMENTS // (n * k * width))
        want_grad = ctx.needs_input_grad[0]
        total = logits.new_zeros((), dtype=torch.float64)
        grad = torch.zeros_like(logits) if want_grad else None
        for top in range(0, height, rows_per_slab):
            bottom = min(top + rows_per_slab, height)
            lo, hi = rows_read(ry[top:bottom])  # the logit rows these output rows read
            ry_slab = ry[top:bottom, lo:hi]  # (rows, hi - lo)
            up = ry_slab @ (logits[:, :, lo:hi] @ rx_t)  # (B, K, rows, W)
            loss, grad_up = _cross_entropy_sum_and_grad(up, labels[:, top:bottom], weight, ignore_index, want_grad)
            if want_grad:  # back through the resize: (B, K, rows, W) -> (B, K, hi - lo, w)
                grad[:, :, lo:hi] += ry_slab.T @ (grad_up @ rx_t.T)
            total += loss
        ctx.save_for_backward(grad)
        return total.to(logits.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None


def _cross_entropy_sum_and_grad(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None,
                                ignore_index: int, want_grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``F.cross_entropy(logits, labels, weight, ignore_index=ignore_index, reduction="sum")`` (logits (B, K, r, W),
    labels (B, r, W)) and its gradient with respect to the logits, ``w_y * (softmax - onehot(y))`` (0 at ignored
    pixels), written out: autograd's way zero-fills a (B, K, r, W) buffer for the one-hot part and runs the
    log-softmax backward as a second pass, 0.4 s of a UPerNet Swin-T training step (batch 2, 512x512)."""
    valid = labels != ignore_index
    target = torch.where(valid, labels, 0).unsqueeze(1)  # (B, 1, r, W); ignored pixels read class 0, weighted 0
    per_pixel = valid.unsqueeze(1).to(logits.dtype)
    if weight is not None:
        per_pixel = per_pixel * weight[target]
    log_p = F.log_softmax(logits, dim=1)
    loss = -(log_p.gather(1, target) * per_pixel).sum(dtype=torch.float64)
    if not want_grad:
        return loss, None
    grad = log_p.exp_().mul_(per_pixel)  # softmax * w_y, in the log-softmax's buffer
    return loss, grad.scatter_add_(1, target, -per_pixel)


def upsampled_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None, ignore_index: int = 255
) -> torch.Tensor:
    """``F.cross_entropy(resize(logits, labels.shape[1:]), labels, weight, ignore_index, reduction="sum")``:
    logits (B, K, h, w), labels (B, H, W); the bilinear resize is mmsegmentation's (align_corners=False). The
    upsampled map is never held whole; the value and the gradient agree with the direct computation to float
    rounding."""
    return _UpsampledCrossEntropy.apply(logits, labels, weight, ignore_index)


def build_loss(cfg: TrainConfig, ignore_index: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """(logits (B, K, h, w), labels (B, H, W)) -> the weighted sum of ``cfg.losses``, on the logits resized to
    the labels' size (the segmentor gives its heads' logits at their own stride in training, as mmseg does).

    Cross-entropy is averaged over all pixels, ignored ones counting as zero (mmseg's default
    ``avg_non_ignore=False``), so every process's loss has the same denominator and DDP's gradient average
    equals the single-process gradient of the global batch. It never holds the resized logits
    (:func:`upsampled_cross_entropy`); the other terms (smp's dice, focal, lovasz) take them resized.
    """
    weight = torch.tensor(cfg.class_weights, dtype=torch.float32) if cfg.class_weights else None
    terms = {name: _smp_loss(name, ignore_index) for name in cfg.losses if name != "ce"}

    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        total = logits.new_zeros(())
        if "ce" in cfg.losses:
            w = weight.to(logits.device) if weight is not None else None
            if logits.shape[2:] == labels.shape[1:]:
                ce = F.cross_entropy(logits, labels, weight=w, ignore_index=ignore_index, reduction="sum")
            else:
                ce = upsampled_cross_entropy(logits, labels, weight=w, ignore_index=ignore_index)
            total = total + cfg.losses["ce"] * ce / labels.numel()
        if terms:
            logits = resize(logits, labels.shape[1:])
        for name, term in terms.items():
            total = total + cfg.losses[name] * term(logits, labels)
        return total

    return loss


def _smp_loss(name: str, ignore_index: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    import segmentation_models_pytorch as smp  # only when asked for: smp takes seconds to import

    losses = {"dice": smp.losses.DiceLoss, "focal": smp.losses.FocalLoss, "lovasz": smp.losses.LovaszLoss}
    return losses[name]("multiclass", ignore_index=ignore_index)
