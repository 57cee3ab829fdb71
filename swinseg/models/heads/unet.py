"""The U-Net decoder on the four Swin stages.

``UnetHead`` is smp's ``UnetDecoder`` (upsample, concatenate the skip, two conv-BN-ReLU blocks per stage) fed
with the Swin features laid out as smp expects: ``[stride 1, stride 2, s4, s8, s16, s32]``, where Swin has
nothing at strides 1 and 2 and we pass zero-channel placeholders (as smp does for its transformer encoders).
With the default five ``decoder_channels`` the decoder goes s32 -> s16 -> s8 -> s4 -> s2 -> s1 and a 3x3 conv
gives the logits at full resolution; with fewer it stops earlier (three: s32 -> s16 -> s8 -> s4, logits at stride
4 that the loss and inference upsample, as UPerNet's; the CPU demo's choice, faster and quicker to learn).

The blocks run as smp's do, with two exact savings: where a block upsamples 2x by nearest neighbour, its first
convolution is computed on the coarse map (:mod:`swinseg.models.ops.nearest_conv`: 16 instead of 36
multiply-adds per channel pair and coarse pixel, no upsampled map, no concatenation), the skip's channels
convolved apart and added; and at inference each BatchNorm is folded into the convolution before it
(:mod:`swinseg.models.ops.folded_batch_norm`), the ReLU applied in place. Same parameters, same result up to
float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder, UnetDecoderBlock
from torch import nn

from swinseg.models.ops.derived_weights import DerivedWeights
from swinseg.models.ops.folded_batch_norm import fold_batch_norm, fold_sources, foldable
from swinseg.models.ops.nearest_conv import add_nearest2x_conv3x3_, nearest2x_conv3x3, phase_kernels

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
        self.interpolation_mode = interpolation_mode
        # phase kernels and folded BatchNorms, kept between inference passes while the weights are unchanged
        self._derived = DerivedWeights()
        self.conv_seg = nn.Conv2d(decoder_channels[-1], num_classes, kernel_size=3, padding=1)
        # Channels-last (NHWC) convolutions: the wide, thin maps near full resolution (16 - 64 channels) run
        # about 1.3x faster than in NCHW with oneDNN on the CPU; the logits come out channels-last too.
        self.to(memory_format=torch.channels_last)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Four NCHW stage features (strides 4 ... 32) -> logits (B, num_classes, H / s, W / s), channels-last."""
        s4, s8, s16, s32 = (f.contiguous(memory_format=torch.channels_last) for f in features)
        h, w = s4.shape[2:]
        # smp's order: block i upsamples to the next size and concatenates the skip there; past stride 4 there
        # is no skip, and the sizes are 2x and 4x stride 4's.
        steps = [(s16.shape[2:], s16), (s8.shape[2:], s8), (s4.shape[2:], s4), ((2 * h, 2 * w), None),
                 ((4 * h, 4 * w), None)]  # fmt: skip
        x = s32  # smp's centre block is off
        for i, (block, (size, skip)) in enumerate(zip(self.decoder.blocks, steps)):
            x = self._run_block(i, block, x, tuple(size), skip)
        return self.conv_seg(x)

    def _conv_weights(self, name: str, block: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
        """The weight and bias of ``block``'s convolution (a Sequential of conv, norm, activation), with the norm
        folded in where that applies (inference), and whether it was: then the norm is not to be applied."""
        conv, norm = block[0], block[1]
        if not foldable(norm):
            return conv.weight, conv.bias, False
        weight, bias = self._derived.get(
            name, fold_sources(conv, norm), lambda: fold_batch_norm(conv.weight, conv.bias, norm)
        )
        return weight, bias, True

    def _run_block(self, i: int, block: UnetDecoderBlock, x: torch.Tensor, size: tuple[int, int],
                   skip: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
        """``block(x, *size, skip)``; its first convolution on the coarse grid when the upsampling is nearest 2x,
        and its BatchNorms folded into the convolutions at inference."""
        exact_2x = size == (2 * x.shape[2], 2 * x.shape[3]) and self.interpolation_mode == "nearest"
        # the ONNX exporter's tracer takes smp's path: it cannot export a convolution with a computed kernel
        if torch.jit.is_tracing() or not (exact_2x and isinstance(block.attention1.attention, nn.Identity)):
            return block(x, *size, skip_connection=skip)
        c = x.shape[1]  # conv1's input is cat([up(x), skip]): its first c input channels read up(x)
        weight, bias, folded = self._conv_weights(f"{i}.conv1", block.conv1)
        kernels = self._derived.get(  # of the weight as used, folded or not
            f"{i}.conv1.phases.{'folded' if folded else 'plain'}", fold_sources(block.conv1[0], block.conv1[1]),
            lambda: phase_kernels(weight[:, :c]).contiguous(memory_format=torch.channels_last),
        )  # fmt: skip
        if skip is None:
            y = nearest2x_conv3x3(x, kernels, bias)
        else:
            y = add_nearest2x_conv3x3_(F.conv2d(skip, weight[:, c:], bias, padding=1), x, kernels)
        y = torch.relu_(y) if folded else block.conv1[2](block.conv1[1](y))
        weight, bias, folded = self._conv_weights(f"{i}.conv2", block.conv2)
        y = torch.relu_(F.conv2d(y, weight, bias, padding=1)) if folded else block.conv2(y)
        return block.attention2(y)

