"""The U-Net decoder on the four Swin stages.

``UnetHead`` is smp's ``UnetDecoder`` (upsample, concatenate the skip, two conv-BN-ReLU blocks per stage) fed
with the Swin features laid out as smp expects: ``[stride 1, stride 2, s4, s8, s16, s32]``, where Swin has
nothing at strides 1 and 2 and we pass zero-channel placeholders (as smp does for its transformer encoders).
With the default five ``decoder_channels`` the decoder goes s32 -> s16 -> s8 -> s4 -> s2 -> s1 and a 3x3 conv
gives the logits at full resolution; with fewer it stops earlier (three: s32 -> s16 -> s8 -> s4, logits at stride
4 that the loss and inference upsample, as UPerNet's; the CPU demo's choice, faster and quicker to learn).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder
from torch import nn

__all__ = ["UnetHead"]


class UnetHead(nn.Module):
    """smp's U-Net decoder from stride 32 down to stride ``32 / 2 ** len(decoder_channels)``, then a 3x3 conv to
    ``num_classes``."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
        interpolation_mode: str = "nearest",
    ):
        super().__init__()
        if len(in_channels) != 4:
            raise ValueError(f"UnetHead expects 4 encoder stages, got {len(in_channels)}")
        if not 1 <= len(decoder_channels) <= 5:
            raise ValueError(f"decoder_channels: 1 to 5 blocks (stride 32 -> 16 ... -> 1), got {len(decoder_channels)}")
        # smp channel layout: [stride 1 (dropped by the decoder), stride 2 (empty), s4, s8, s16, s32]
        self.decoder = UnetDecoder(
            encoder_channels=[0, 0, *in_channels],
            decoder_channels=list(decoder_channels),
            n_blocks=len(decoder_channels),
            interpolation_mode=interpolation_mode,
        )
        self.conv_seg = nn.Conv2d(decoder_channels[-1], num_classes, kernel_size=3, padding=1)
        # Channels-last (NHWC) convolutions: the wide, thin maps near full resolution (16 - 64 channels) run
        # about 1.3x faster than in NCHW with oneDNN on the CPU; the logits come out channels-last too.
        self.to(memory_format=torch.channels_last)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        features = [f.contiguous(memory_format=torch.channels_last) for f in features]
        s4 = features[0]
        B, _, h, w = s4.shape
        # Zero-channel placeholders carry only the target sizes of the two upsampling steps past stride 4.
        full = s4.new_empty(B, 0, 4 * h, 4 * w)
        half = s4.new_empty(B, 0, 2 * h, 2 * w)
        return self.conv_seg(self.decoder([full, half, *features]))


