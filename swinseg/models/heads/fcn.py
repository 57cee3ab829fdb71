"""The auxiliary FCN head (mmsegmentation's ``FCNHead``), used in training only."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from swinseg.models.heads.uper import ConvModule

__all__ = ["FCNHead"]


class FCNHead(nn.Module):
    """Auxiliary FCN head on one stage: ``num_convs`` 3x3 ConvModules -> dropout -> 1x1 ``conv_seg``."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        channels: int = 256,
        num_convs: int = 1,
        in_index: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.in_index = in_index
        self.convs = nn.Sequential(
            *(ConvModule(in_channels if i == 0 else channels, channels, 3) for i in range(num_convs))
        )
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        nn.init.normal_(self.conv_seg.weight, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.conv_seg(self.dropout(self.convs(features[self.in_index])))
