"""One forward pass over whole images: the model must give logits at its input size (eval mode)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["run_model", "whole_inference"]


def run_model(model: nn.Module, images: Tensor) -> Tensor:
    logits = model(images)
    if not isinstance(logits, Tensor) or logits.shape[0] != images.shape[0] or logits.shape[2:] != images.shape[2:]:
        raise ValueError("the model must return logits (B, K, H, W) at its input size; is it in eval mode?")
    return logits


def whole_inference(model: nn.Module, images: Tensor) -> Tensor:
    """(B, 3, H, W) -> logits (B, K, H, W) in one forward pass."""
    with torch.inference_mode():
        return run_model(model, images)
