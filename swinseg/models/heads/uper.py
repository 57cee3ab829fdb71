"""UPerNet decode head and the auxiliary FCN head, with mmsegmentation's semantics and parameter names.

    features [s4, s8, s16, s32] (NCHW)
      PPM on s32: avg-pool to 1, 2, 3, 6 -> 1x1 conv each -> upsample -> concat with s32 -> 3x3 ``bottleneck``
      ``lateral_convs`` (1x1) on s4, s8, s16; top-down: lateral[i-1] += upsample(lateral[i])
      ``fpn_convs`` (3x3) on s4, s8, s16; every level upsampled to stride 4, concatenated
      ``fpn_bottleneck`` (3x3) -> dropout -> ``conv_seg`` (1x1) -> logits at stride 4
      (the bottleneck convolves the upsampled levels without building them: see ``fpn_bottleneck_block``)

Every conv block is conv (no bias) + BatchNorm + ReLU (mmcv's ``ConvModule``: keys ``conv``, ``bn``).
Upsampling is bilinear with align_corners=False, as in the ADE20K configs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from swinseg.models.ops.batch_norm_relu import batch_norm_relu
from swinseg.models.ops.derived_weights import DerivedWeights
from swinseg.models.ops.folded_batch_norm import fold_batch_norm, fold_sources, foldable
from swinseg.models.ops.resize import resize
from swinseg.models.ops.upsampled_conv import (
    add_resized_conv3x3_,
    add_upsampled_conv3x3_,
    integer_factors,
    resized_conv3x3_kernels,
)

__all__ = ["ConvModule", "UPerHead"]


class ConvModule(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU; in training the ReLU's output is not kept for backward
    (:func:`~swinseg.models.ops.batch_norm_relu.batch_norm_relu`). At inference, on maps with more pixels than
    the kernel has weights per output channel (the stride-4 levels of UPerNet Swin-T at 512x512, the 1x1
    laterals everywhere), the BatchNorm is folded into the convolution (:mod:`~swinseg.models.ops.folded_batch_norm`;
    a pass over the output saved, a folded copy of the weight kept) and the ReLU runs in place."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self._folded = DerivedWeights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if foldable(self.bn) and x.shape[-2] * x.shape[-1] > self.conv.weight[0].numel():
            weight, bias = self.folded_weights()
            return torch.relu_(F.conv2d(x, weight, bias, padding=self.conv.padding))
        return self.norm_activate(self.conv(x))

    def folded_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """At inference (``foldable(self.bn)``): the convolution's weight with the BatchNorm folded in,
        channels-last (the layout of the maps at inference: oneDNN reorders nothing per call), and the bias.
        Kept while the weights and statistics are unchanged."""

        def fold() -> tuple[torch.Tensor, torch.Tensor]:
            weight, bias = fold_batch_norm(self.conv.weight, None, self.bn)
            return weight.contiguous(memory_format=torch.channels_last), bias

        return self._folded.get("folded", fold_sources(self.conv, self.bn), fold)

    def norm_activate(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU(BN(x)), for a convolution's output."""
        return batch_norm_relu(x, self.bn)


class UPerHead(nn.Module):
    """UPerNet head (Xiao et al. 2018) over the four encoder stages; returns logits at stride 4."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        channels: int = 512,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        dropout: float = 0.1,
    ):
        super().__init__()
        in_channels = list(in_channels)
        self.psp_modules = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale), ConvModule(in_channels[-1], channels, 1))
            for scale in pool_scales
        )
        self.bottleneck = ConvModule(in_channels[-1] + len(pool_scales) * channels, channels, 3)
        self.lateral_convs = nn.ModuleList(ConvModule(c, channels, 1) for c in in_channels[:-1])
        self.fpn_convs = nn.ModuleList(ConvModule(channels, channels, 3) for _ in in_channels[:-1])
        self.fpn_bottleneck = ConvModule(len(in_channels) * channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        nn.init.normal_(self.conv_seg.weight, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)
        self._bottleneck_kernels_kept = DerivedWeights()

    def psp_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pyramid pooling on the last stage: (B, C4, h, w) -> (B, channels, h, w)."""
        outs = [x] + [resize(ppm(x), x.shape[2:]) for ppm in self.psp_modules]
        return self.bottleneck(torch.cat(outs, dim=1))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if not torch.is_grad_enabled():
            # inference: channels-last maps (the Swin encoder's own layout), 3-7 % faster convolutions on the CPU
            # (Xeon, AVX-512; most at batch 4); training keeps the layout it was measured with
            features = [f.contiguous(memory_format=torch.channels_last) for f in features]
        # laterals: [s4, s8, s16] from 1x1 convs, then the PPM output at s32
        laterals = [conv(features[i]) for i, conv in enumerate(self.lateral_convs)]
        laterals.append(self.psp_forward(features[-1]))
        # top-down path: add each coarser level into the next finer one (s32 -> s16 -> s8 -> s4)
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], laterals[i - 1].shape[2:])
        # 3x3 convs on all levels but the PPM one, then everything upsampled to stride 4, concatenated, 3x3 conv
        outs = [conv(laterals[i]) for i, conv in enumerate(self.fpn_convs)] + [laterals[-1]]
        return self.conv_seg(self.dropout(self.fpn_bottleneck_block(outs)))

    def fpn_bottleneck_block(self, outs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``fpn_bottleneck(cat([outs[0], up(outs[1]), up(outs[2]), up(outs[3])]))``: conv, BN, ReLU.

        The convolution is split by input level and the upsampled levels' channel mixing runs on their coarse
        grids (:mod:`swinseg.models.ops.upsampled_conv`): 309 -> about 110 GFLOPs for Swin-T at 512x512, the same
        result up to float rounding. Without autograd this works at any size (:func:`add_resized_conv3x3_`, the
        BatchNorm folded into the kernels where it can be: :meth:`_bottleneck_kernels`); with autograd, where every
        level is an integer fraction of stride 4 (inputs that are multiples of 32: :func:`add_upsampled_conv3x3_`).
        Other sizes in training take the direct route, and so does tracing (ONNX export), whose graph must serve
        every size.
        """
        size = tuple(outs[0].shape[2:])
        block = self.fpn_bottleneck
        channels = [o.shape[1] for o in outs]
        autograd = torch.is_grad_enabled() and (block.conv.weight.requires_grad or any(o.requires_grad for o in outs))
        direct = torch.jit.is_tracing() or (
            autograd and any(integer_factors(tuple(o.shape[2:]), size) is None for o in outs[1:])
        )
        if direct:
            return block(torch.cat([outs[0]] + [resize(o, size) for o in outs[1:]], dim=1))
        # channels-last (as at inference already): in training oneDNN's backward then reorders nothing to its
        # blocked layout (this convolution alone at batch 2, 512x512 on the Xeon: 283 -> 209 MB peak for forward +
        # backward; the whole step about 40 MB less); what follows keeps the layout
        first = outs[0].contiguous(memory_format=torch.channels_last)
        if autograd:
            weights = block.conv.weight.split(channels, dim=1)
            x = F.conv2d(first, weights[0], padding=1)
            for level, weight in zip(outs[1:], weights[1:]):
                add_upsampled_conv3x3_(x, level, weight)
            return block.norm_activate(x)
        weight, kernels, bias = self._bottleneck_kernels(channels)
        x = F.conv2d(first, weight, bias, padding=1)
        for level, level_kernels in zip(outs[1:], kernels):
            add_resized_conv3x3_(x, level, level_kernels)
        return block.norm_activate(x) if bias is None else torch.relu_(x)

    def _bottleneck_kernels(
        self, channels: Sequence[int]
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
        """Without autograd: the bottleneck's kernel for the stride-4 level (channels-last) and the upsampled
        levels' in :func:`resized_conv3x3_kernels`' layout, with the BatchNorm folded in and its bias where it
        folds (``foldable``; else the bias is None); kept from pass to pass while the weights and statistics
        are unchanged."""
        block = self.fpn_bottleneck
        folded = foldable(block.bn)

        def make() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
            weight, bias = fold_batch_norm(block.conv.weight, None, block.bn) if folded else (block.conv.weight, None)
            first, *levels = weight.split(list(channels), dim=1)
            levels = [resized_conv3x3_kernels(w) for w in levels]
            return first.contiguous(memory_format=torch.channels_last), levels, bias

        key = f"channels {tuple(channels)}, folded {folded}"
        return self._bottleneck_kernels_kept.get(key, fold_sources(block.conv, block.bn), make)
