"""The U-Net decoder on the four Swin stages.

``UnetHead`` is smp's ``UnetDecoder`` (upsample, concatenate the skip, two conv-BN-ReLU blocks per stage) fed
with the Swin features laid out as smp expects: ``[stride 1, stride 2, s4, s8, s16, s32]``, where Swin has
nothing at strides 1 and 2 and we pass zero-channel placeholders (as smp does for its transformer encoders).
With the default five ``decoder_channels`` the decoder goes s32 -> s16 -> s8 -> s4 -> s2 -> s1 and a 3x3 conv
gives the logits at full resolution; with fewer it stops earlier (three: s32 -> s16 -> s8 -> s4, logits at stride
4 that the loss and inference upsample, as UPerNet's; the CPU demo's choice, faster and quicker to learn).

The blocks run as smp's do, with one exact saving: where a block upsamples 2x by nearest neighbour, its first
convolution is computed on the coarse map (:mod:`swinseg.models.ops.nearest_conv`: 16 instead of 36
multiply-adds per channel pair and coarse pixel, no upsampled map, no concatenation), the skip's channels
convolved apart and added. Same parameters, same result up to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder, UnetDecoderBlock
from torch import nn

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
        # block index -> (the weight's storage, version, dtype, device; its phase kernels), for inference only
        self._phase_cache: dict[int, tuple[tuple, torch.Tensor]] = {}
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

    def _phase_kernels(self, i: int, weight: torch.Tensor) -> torch.Tensor:
        """``phase_kernels(weight)`` (channels-last), kept from one pass without autograd to the next while the
        weight is unchanged (in-place updates bump its version); recomputed under autograd or a compiler, and for
        weights made under ``torch.inference_mode`` (inference tensors have no version to tell a change by)."""
        if torch.is_grad_enabled() or torch.compiler.is_compiling() or weight.is_inference():
            return phase_kernels(weight).contiguous(memory_format=torch.channels_last)
        key = (weight.data_ptr(), weight._version, weight.dtype, weight.device)
        cached = self._phase_cache.get(i)
        if cached is None or cached[0] != key:
            cached = key, phase_kernels(weight).contiguous(memory_format=torch.channels_last)
            self._phase_cache[i] = cached
        return cached[1]

    def _run_block(self, i: int, block: UnetDecoderBlock, x: torch.Tensor, size: tuple[int, int],
                   skip: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
        """``block(x, *size, skip)``; its first convolution on the coarse grid when the upsampling is nearest 2x."""
        conv, norm, activation = block.conv1
        exact_2x = size == (2 * x.shape[2], 2 * x.shape[3]) and self.interpolation_mode == "nearest"
        # the ONNX exporter's tracer takes smp's path: it cannot export a convolution with a computed kernel
        if torch.jit.is_tracing() or not (exact_2x and isinstance(block.attention1.attention, nn.Identity)):
            return block(x, *size, skip_connection=skip)
        c = x.shape[1]  # conv's input is cat([up(x), skip]): its first c input channels read up(x)
        if skip is None:
            y = nearest2x_conv3x3(x, self._phase_kernels(i, conv.weight))
            if conv.bias is not None:
                y = y + conv.bias.view(1, -1, 1, 1)
        else:
            y = F.conv2d(skip, conv.weight[:, c:], conv.bias, padding=1)
            y = add_nearest2x_conv3x3_(y, x, self._phase_kernels(i, conv.weight[:, :c]))
        return block.attention2(block.conv2(activation(norm(y))))
