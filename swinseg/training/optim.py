"""The optimizer and the learning-rate schedule of the recipe: AdamW, linear warm-up, poly decay."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from swinseg.training.config import OptimConfig

__all__ = ["NO_DECAY_KEYS", "build_optimizer", "lr_factor"]


NO_DECAY_KEYS = ("norm", "relative_position_bias_table", "absolute_pos_embed")


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on names containing ``NO_DECAY_KEYS`` (mmseg's Swin ``paramwise_cfg``)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if any(k in name for k in NO_DECAY_KEYS) else decay).append(p)
    groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def lr_factor(cfg: OptimConfig, max_iters: int) -> Callable[[int], float]:
    """Iteration -> multiple of the base lr: linear from ``warmup_start_factor`` to 1 over ``warmup_iters``
    (mmengine ``LinearLR``), then poly decay to ``min_lr`` at ``max_iters`` (``PolyLR(begin=warmup_iters)``)."""
    min_factor = cfg.min_lr / cfg.lr

    def factor(it: int) -> float:
        if it < cfg.warmup_iters:
            return cfg.warmup_start_factor + (1 - cfg.warmup_start_factor) * it / cfg.warmup_iters
        progress = min((it - cfg.warmup_iters) / max(max_iters - cfg.warmup_iters, 1), 1.0)
        return (1 - min_factor) * (1 - progress) ** cfg.poly_power + min_factor

    return factor
