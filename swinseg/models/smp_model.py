"""An smp model (``smp.Unet``, ``smp.UPerNet``, ...) around swinseg's Swin encoder, with :class:`Segmentor`'s
interface: ``config``, ``head_logits``, ``set_grad_checkpointing``, and the smp model's own parameter names in
its state dict (no wrapper prefix), so checkpoints read and write exactly what smp does.

smp itself is imported only when :func:`build_smp_model` builds one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from swinseg.models.segmentor import SegmentorConfig

__all__ = ["SmpSegmentor", "build_smp_model"]


class SmpSegmentor(nn.Module):
    """Normalised images (B, 3, H, W) -> logits (B, num_classes, H, W), in training as in eval mode (smp's
    decoders end at full resolution). ``model`` is the smp model; ``model.encoder`` is our Swin."""

    def __init__(self, config: SegmentorConfig, model: nn.Module):
        super().__init__()
        self.config = config
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def head_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The logits at the head's own stride, which for smp's decoders is the input's (stride 1)."""
        return self.model(x)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Activation checkpointing of the Swin encoder's stages (smp's decoders have none of their own)."""
        self.model.encoder.set_grad_checkpointing(enable)

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):  # noqa: ANN001, ANN201
        """The smp model's state dict, with its names (``encoder.*``, ``decoder.*``, ``segmentation_head.*``)."""
        return self.model.state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # noqa: ANN001, ANN201
        return self.model.load_state_dict(state_dict, strict=strict, assign=assign)


def build_smp_model(config: SegmentorConfig) -> SmpSegmentor:
    """``smp.<Arch>`` (from ``config.decoder == "smp:<Arch>"``) around our Swin encoder, randomly initialised."""
    import segmentation_models_pytorch as smp

    from swinseg.models.smp_encoder import register_smp_encoder

    arch = config.decoder.removeprefix("smp:")
    name = register_smp_encoder(f"swinseg_{abs(hash(config.encoder)):x}", config.encoder)
    model = smp.create_model(arch, encoder_name=name, encoder_weights=None, classes=config.num_classes,
                             **config.decoder_args)  # fmt: skip
    return SmpSegmentor(config, model)
