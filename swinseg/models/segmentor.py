"""The segmentor: Swin encoder + decode head (+ auxiliary head in training), and its config.

``build_model(config)`` is the one place that turns a :class:`SegmentorConfig` into a module. Decoders are a
plain dict from name to builder. ``decoder="smp:<Arch>"`` builds an smp model (``smp.UPerNet``, ``smp.Unet``,
...) around our Swin encoder instead, wrapped as an :class:`SmpSegmentor` with the same interface; see
:mod:`swinseg.models.smp_model`. Either is a :data:`SwinsegModel`: callers never ask which one they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from swinseg.core.config_keys import check_known_keys
from swinseg.core.config_types import NonNegativeFloat, PositiveInt, validated
from swinseg.models.heads.fcn import FCNHead
from swinseg.models.heads.swin_unet import SwinUnetHead
from swinseg.models.heads.uper import UPerHead
from swinseg.models.ops.resize import resize
from swinseg.models.smp_model import SmpSegmentor
from swinseg.models.swin import SWIN_VARIANTS, SwinConfig, SwinTransformer

__all__ = ["DECODERS", "Segmentor", "SegmentorConfig", "SmpSegmentor", "SwinsegModel", "build_model"]


@dataclass
class SegmentorConfig:
    """A whole model. Saved as JSON inside every swinseg checkpoint.

    decoder: ``upernet`` | ``unet`` | ``swin_unet`` | ``smp:<Arch>`` (any smp architecture name).
    decoder_args: keyword arguments of that decoder (``UPerHead``: channels, pool_scales, dropout;
        ``UnetHead``: decoder_channels; ``SwinUnetHead``: depths, window_size; smp: the model's kwargs).
    aux_head: the auxiliary FCN head on stage 3, used only in training (loss weight ``aux_loss_weight``).
    """

    encoder: SwinConfig = field(default_factory=lambda: SWIN_VARIANTS["swin_t"])
    decoder: str = "upernet"
    num_classes: PositiveInt = 150
    decoder_args: dict = field(default_factory=dict)
    aux_head: bool = True
    aux_args: dict = field(default_factory=dict)
    aux_loss_weight: NonNegativeFloat = 0.4

    def __post_init__(self) -> None:
        if isinstance(self.encoder, dict):
            self.encoder = SwinConfig(**self.encoder)
        if self.decoder not in DECODERS and not self.decoder.startswith("smp:"):
            raise ValueError(f"unknown decoder {self.decoder!r}; choose from {sorted(DECODERS)} or 'smp:<Arch>'")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SegmentorConfig:
        check_known_keys("model config", data, cls)
        check_known_keys("model.encoder config", data.get("encoder", {}), SwinConfig)
        return validated(cls, data, "model.")


@contextmanager
def _batchnorm_statistics_kept(module: nn.Module) -> Iterator[None]:
    """Inside, BatchNorm layers in training mode normalise with the batch but leave their running statistics
    (and batch counters) as they were: for the recomputation of a checkpointed forward pass, which must not
    count the same batch twice."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
             for m in norms]  # fmt: skip
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved):
            m.momentum = momentum
            if count is not None:
                m.num_batches_tracked.copy_(count)


class Segmentor(nn.Module):
    """Normalised images (B, 3, H, W) -> logits (B, num_classes, H, W).

    In training mode it returns the heads' logits at their own strides (UPerNet's at H/4, the auxiliary
    head's at H/16), ``(logits, aux_logits)`` with an auxiliary head: like mmseg's decode heads, the loss
    resizes them to the labels (:func:`swinseg.training.losses.build_loss`), without holding the full-size maps.
    """

    def __init__(
        self,
        config: SegmentorConfig,
        backbone: SwinTransformer,
        decode_head: nn.Module,
        auxiliary_head: nn.Module | None = None,
    ):
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.decode_head = decode_head
        self.auxiliary_head = auxiliary_head
        self.grad_checkpointing = False

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Activation checkpointing of the encoder stages and the decode head: their activations are recomputed
        in the backward pass instead of stored (Swin-T UPerNet, batch 2 at 512x512 on the CPU: 0.65-0.75x the
        peak memory growth of a step for about 1.2x its time)."""
        self.backbone.set_grad_checkpointing(enable)
        self.grad_checkpointing = enable

    def _decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        if not (self.grad_checkpointing and self.training and torch.is_grad_enabled()):
            return self.decode_head(features)
        contexts = lambda: (nullcontext(), _batchnorm_statistics_kept(self.decode_head))  # noqa: E731
        return checkpoint(self.decode_head, features, use_reentrant=False, context_fn=contexts)

    def head_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The decode head's logits at its own stride (B, num_classes, H/4, W/4 for UPerNet): what ``forward``
        resizes to the input size in eval mode."""
        return self._decode(self.backbone(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        logits = self._decode(features)
        if not self.training:
            return resize(logits, x.shape[2:])
        if self.auxiliary_head is not None:
            return logits, self.auxiliary_head(features)
        return logits


def _upernet(config: SegmentorConfig) -> nn.Module:
    return UPerHead(config.encoder.channels, config.num_classes, **config.decoder_args)


def _unet(config: SegmentorConfig) -> nn.Module:
    from swinseg.models.heads.unet import (
        UnetHead,  # smp's U-Net decoder: smp is imported when one is built
    )

    return UnetHead(config.encoder.channels, config.num_classes, **config.decoder_args)


def _swin_unet(config: SegmentorConfig) -> nn.Module:
    args = {"window_size": config.encoder.window_size, **config.decoder_args}
    return SwinUnetHead(config.encoder.channels, config.num_classes, config.encoder.num_heads, **args)


DECODERS: dict[str, Callable[[SegmentorConfig], nn.Module]] = {
    "upernet": _upernet,
    "unet": _unet,
    "swin_unet": _swin_unet,
}


SwinsegModel = Segmentor | SmpSegmentor  # what build_model returns: both have config, head_logits, ...


def build_model(config: SegmentorConfig) -> SwinsegModel:
    """A randomly initialised model for ``config`` (its ``config`` attribute)."""
    if config.decoder.startswith("smp:"):
        from swinseg.models.smp_model import build_smp_model

        return build_smp_model(config)
    aux = None
    if config.aux_head:
        args = {"in_index": 2, **config.aux_args}
        aux = FCNHead(config.encoder.channels[args["in_index"]], config.num_classes, **args)
    return Segmentor(config, SwinTransformer(config.encoder), DECODERS[config.decoder](config), aux)
