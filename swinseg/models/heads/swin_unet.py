"""The Swin-Unet decoder (Cao et al. 2021): symmetric Swin stages with patch expanding.

Patch expanding is a Linear C -> 2C, then a 2x2 rearrange to C/2 channels at twice the resolution; each skip is
concatenated and a Linear brings it back to C; a final 4x patch expanding goes to full resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from swinseg.models.swin import SwinStage, linear_drop_path_rates

__all__ = ["PatchExpand", "SwinUnetHead"]


class PatchExpand(nn.Module):
    """(B, H, W, C) -> (B, s*H, s*W, C_out): Linear C -> s*s*C_out (no bias), rearrange, LayerNorm(C_out)."""

    def __init__(self, dim: int, out_dim: int, scale: int = 2):
        super().__init__()
        self.scale = scale
        self.expand = nn.Linear(dim, scale * scale * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, _ = x.shape
        s = self.scale
        x = self.expand(x)
        # (B, H, W, s*s*C) -> (B, H, W, s, s, C) -> (B, H, s, W, s, C) -> (B, s*H, s*W, C)
        x = x.view(B, H, W, s, s, -1).permute(0, 1, 3, 2, 4, 5).reshape(B, H * s, W * s, -1)
        return self.norm(x)


class SwinUnetHead(nn.Module):
    """Swin-Unet decoder: s32 -(expand)-> s16 -> s8 -> s4 with Swin stages, then 4x expand to full resolution."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        num_heads: Sequence[int],
        depths: Sequence[int] = (2, 2, 2),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
    ):
        super().__init__()
        if len(in_channels) != 4 or len(num_heads) != 4 or len(depths) != 3:
            raise ValueError("SwinUnetHead expects 4 encoder stages (channels, heads) and 3 decoder depths")
        # Decoder stages run at s16, s8, s4 with the encoder's channels and heads of that stride.
        dims = list(in_channels[:3])[::-1]  # [4C, 2C, C]
        heads = list(num_heads[:3])[::-1]
        rates = linear_drop_path_rates(drop_path_rate, sum(depths))[::-1]  # deepest decoder stage first
        starts = [sum(depths[:i]) for i in range(3)]
        self.up = PatchExpand(in_channels[3], dims[0])  # s32 (8C) -> s16 (4C)
        self.concat_back = nn.ModuleList(nn.Linear(2 * d, d) for d in dims)
        self.stages = nn.ModuleList(
            SwinStage(
                dim=dims[i],
                depth=depths[i],
                num_heads=heads[i],
                window_size=window_size,
                mlp_ratio=mlp_ratio,
                qkv_bias=True,
                drop_path=rates[starts[i] : starts[i] + depths[i]],
                downsample=False,
            )
            for i in range(3)
        )
        self.expands = nn.ModuleList(PatchExpand(dims[i], dims[i + 1]) for i in range(2))  # s16->s8, s8->s4
        self.norm_up = nn.LayerNorm(dims[-1])
        self.final_expand = PatchExpand(dims[-1], dims[-1], scale=4)  # s4 -> s1, C channels
        self.conv_seg = nn.Conv2d(dims[-1], num_classes, kernel_size=1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        skips = [f.permute(0, 2, 3, 1) for f in features[:3]][::-1]  # NCHW -> NHWC: [s16, s8, s4]
        x = self.up(features[3].permute(0, 2, 3, 1))
        for i, skip in enumerate(skips):
            x = x[:, : skip.shape[1], : skip.shape[2]]  # odd sizes: the encoder padded before merging
            x = self.concat_back[i](torch.cat([x, skip], dim=-1))
            x, _ = self.stages[i](x)
            if i < len(self.expands):
                x = self.expands[i](x)
        x = self.final_expand(self.norm_up(x))
        return self.conv_seg(x.permute(0, 3, 1, 2))
