"""Our Swin as a segmentation-models-pytorch encoder, so every smp decoder that takes a stride-32 encoder
(Unet, Unet++, FPN, UPerNet, Segformer, Linknet, MAnet, PSPNet) builds on it.

smp's ``EncoderMixin`` contract: ``forward(x)`` returns ``depth + 1`` features at strides 1, 2, 4, ..., 2**depth;
``out_channels`` lists their channels. Swin has nothing at strides 1 and 2, so (like smp's own transformer
encoders) the input itself stands at stride 1 and an empty zero-channel tensor at stride 2.
Not supported: decoders that need a dilated encoder (``DeepLabV3``, ``DeepLabV3Plus`` with output_stride 8/16,
``PAN``) and ``DPT`` (needs a ViT).

Registration is explicit::

    import segmentation_models_pytorch as smp
    from swinseg.models.smp_encoder import register_smp_encoders
    register_smp_encoders()
    model = smp.Unet("swinseg_swin_t", encoder_weights=None, classes=150)
"""

from __future__ import annotations

from dataclasses import replace

import torch
from segmentation_models_pytorch.encoders import encoders as smp_encoders
from segmentation_models_pytorch.encoders._base import EncoderMixin

from swinseg.models.swin import SWIN_VARIANTS, SwinConfig, SwinTransformer

__all__ = ["SmpSwinEncoder", "register_smp_encoder", "register_smp_encoders"]


class SmpSwinEncoder(SwinTransformer, EncoderMixin):
    """:class:`SwinTransformer` with smp's encoder interface (parameter names unchanged).

    smp's encoder contract asks each encoder to say which export paths work. ``torch.jit.script`` does not: the
    encoder's config dataclass, the size-dependent padding and the cached masks are beyond TorchScript, so
    ``_is_torch_scriptable`` is False (smp then skips that check; ``torch.export`` and ONNX do work).
    """

    _is_torch_scriptable = False

    def __init__(self, config: dict, depth: int = 5, output_stride: int = 32):
        if output_stride != 32:
            raise ValueError("the Swin encoder has no dilated mode: smp decoders must use output_stride=32")
        if not 1 <= depth <= 5:
            raise ValueError(f"encoder depth must be in [1, 5], got {depth}")
        swin = SwinConfig(**config)
        SwinTransformer.__init__(self, swin)
        self._depth = depth
        self._in_channels = swin.in_chans
        self._output_stride = output_stride
        self._out_channels = [swin.in_chans, 0, *swin.channels]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        B, _, H, W = x.shape
        empty = x.new_empty(B, 0, H // 2, W // 2)  # stride 2: no Swin feature
        return [x, empty, *SwinTransformer.forward(self, x)][: self._depth + 1]

    def make_dilated(self, output_stride: int) -> None:
        raise ValueError("the Swin encoder has no dilated mode: smp decoders must use output_stride=32")


def register_smp_encoder(name: str, config: SwinConfig) -> str:
    """Make ``name`` an smp encoder name that builds our Swin with ``config``; returns the name."""
    smp_encoders[name] = {"encoder": SmpSwinEncoder, "pretrained_settings": {}, "params": {"config": config.to_dict()}}
    return name


def register_smp_encoders() -> list[str]:
    """Register ``swinseg_<variant>`` and ``swinseg_<variant>_w12`` for every Swin variant; returns the names."""
    names = []
    for variant, config in SWIN_VARIANTS.items():
        names.append(register_smp_encoder(f"swinseg_{variant}", config))
        names.append(register_smp_encoder(f"swinseg_{variant}_w12", replace(config, window_size=12)))
    return names
