"""Swin Transformer encoder for dense prediction (Liu et al. 2021, arXiv 2103.14030).

Layout follows the official segmentation backbone (Swin-Transformer-Semantic-Segmentation):

    image (B, 3, H, W)
      -> PatchEmbed: 4x4 conv (patch partition + linear embedding) [+ LayerNorm]   (B, H/4, W/4, C)
      -> stage 0: blocks (W-MSA, SW-MSA, W-MSA, ...) -> out_norms[0] -> feature at stride 4, C channels
         -> PatchMerging (2x2 neighbours -> 4C -> LayerNorm -> Linear to 2C)
      -> stage 1 ... stage 3 (no merging after the last stage)
    features: four NCHW tensors at strides 4/8/16/32 with C, 2C, 4C, 8C channels.

Any H x W works: the patch embedding pads to a multiple of the patch size, every block pads to a multiple
of the window (after its first LayerNorm, with zeros, exactly as the official code, mmsegmentation and
Hugging Face do), and patch merging pads odd sizes. Internally tokens are kept channels-last (B, H, W, C).

Parameter names match the official checkpoints (``patch_embed.proj``, ``layers.{i}.blocks.{j}.attn.qkv``,
``layers.{i}.downsample.reduction`` ...), except that the four output norms are ``out_norms.{i}``
(``norm{i}`` in the official segmentation backbone).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from swinseg.core.config_types import PositiveFloat, PositiveInt, UnitInterval
from swinseg.models.ops.biased_attention import biased_attention
from swinseg.models.ops.gelu_linear import gelu_linear
from swinseg.models.ops.layer_norm_linear import layer_norm_linear
from swinseg.models.ops.linear import linear

__all__ = [
    "SWIN_VARIANTS",
    "SwinConfig",
    "SwinTransformer",
    "swin_config",
    "window_partition",
    "window_reverse",
]


@dataclass(frozen=True)
class SwinConfig:
    """Everything that defines a Swin encoder. Derived values (stage channels) are properties."""

    embed_dim: PositiveInt = 96
    depths: tuple[PositiveInt, ...] = (2, 2, 6, 2)
    num_heads: tuple[PositiveInt, ...] = (3, 6, 12, 24)
    window_size: PositiveInt = 7
    patch_size: PositiveInt = 4
    in_chans: PositiveInt = 3
    mlp_ratio: PositiveFloat = 4.0
    qkv_bias: bool = True
    patch_norm: bool = True
    # LayerNorm on each stage output (official segmentation backbone, mmseg, HF). smp's UPerNet decoder
    # normalises the features itself, so the smp-built models turn these off.
    out_norms: bool = True
    drop_path_rate: UnitInterval = 0.3
    # Order of the cyclic shift and the window padding. The official code, mmsegmentation and Hugging Face
    # pad first, then shift; timm (and therefore smp's timm-based Swin encoders) shifts first, then pads.
    # Both give identical results when the feature map is a multiple of the window.
    shift_before_pad: bool = False
    # Recompute each stage in the backward pass instead of storing its activations.
    grad_checkpointing: bool = False

    def __post_init__(self) -> None:
        # Accept lists (from JSON / YAML) but store tuples so the config stays hashable.
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))
        if len(self.depths) != len(self.num_heads):
            raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} differ in length")
        for i, heads in enumerate(self.num_heads):
            if self.channels[i] % heads:
                raise ValueError(f"stage {i}: {self.channels[i]} channels do not split into {heads} heads")

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels of the stage outputs: C, 2C, 4C, 8C."""
        return tuple(self.embed_dim * 2**i for i in range(len(self.depths)))

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(self.patch_size * 2**i for i in range(len(self.depths)))

    def to_dict(self) -> dict:
        return asdict(self)


SWIN_VARIANTS: dict[str, SwinConfig] = {
    "swin_t": SwinConfig(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    "swin_s": SwinConfig(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    "swin_b": SwinConfig(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    "swin_l": SwinConfig(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    # Tiny variant for tests and CPU demos: every stage still has a W-MSA and an SW-MSA block.
    "swin_toy": SwinConfig(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), drop_path_rate=0.1),
}


def swin_config(variant: str, **overrides) -> SwinConfig:
    """The config of a named variant (``swin_t``, ``swin_s``, ``swin_b``, ``swin_l``, ``swin_toy``).

    ``overrides`` replace fields, e.g. ``swin_config("swin_b", window_size=12)``.
    """
    if variant not in SWIN_VARIANTS:
        raise ValueError(f"unknown Swin variant {variant!r}; choose from {sorted(SWIN_VARIANTS)}")
    return replace(SWIN_VARIANTS[variant], **overrides)


# ----------------------------------------------------------------------------------------------------------
# Windows
# ----------------------------------------------------------------------------------------------------------


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """Split a feature map into non-overlapping windows.

    Args:
        x: (B, H, W, C) with H and W multiples of ``window_size``.
    Returns:
        (B, num_windows, window_size * window_size, C), windows in row-major order.
    """
    B, H, W, C = x.shape
    rows, cols = H // window_size, W // window_size
    x = x.view(B, rows, window_size, cols, window_size, C)
    # (B, nH, M, nW, M, C) -> (B, nH, nW, M, M, C) -> (B, nH * nW, M * M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, rows * cols, window_size * window_size, C)


def window_reverse(windows: torch.Tensor, window_size: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`.

    Args:
        windows: (B, num_windows, window_size * window_size, C).
    Returns:
        (B, H, W, C).
    """
    B, _, _, C = windows.shape
    x = windows.view(B, H // window_size, W // window_size, window_size, window_size, C)
    # (B, nH, nW, M, M, C) -> (B, nH, M, nW, M, C) -> (B, H, W, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)


def relative_position_index(window_size: int) -> torch.Tensor:
    """Index into the ``[(2M-1)^2, heads]`` bias table for every (query, key) pair of a window.

    Returns:
        (M*M, M*M) long tensor: ``(dy + M - 1) * (2M - 1) + (dx + M - 1)`` for the offset (dy, dx).
    """
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
    coords = coords.flatten(1)  # (2, M*M)
    relative = coords[:, :, None] - coords[:, None, :]  # (2, M*M, M*M), offsets in [-(M-1), M-1]
    relative = relative + (window_size - 1)  # shift to [0, 2M-2]
    return relative[0] * (2 * window_size - 1) + relative[1]


def shifted_window_mask_patterns(window_size: int, shift_size: int) -> torch.Tensor:
    """The four distinct SW-MSA masks, as additive float masks.

    After the cyclic shift, the padded map is split into 3 regions along each axis ([0, -M), [-M, -s),
    [-s, end)), 9 regions in all; tokens may only attend to tokens of their own region. Only windows in the
    last window row and/or last window column straddle regions, so every window has one of four masks:

        pattern 0: interior (no masking), 1: last column, 2: last row, 3: bottom-right corner.

    Returns:
        (4, M*M, M*M) with 0 where attention is allowed and -inf where it is not. The official code adds -100,
        which leaves exp(-100) ~ 4e-44 on masked keys: denormal floats that slow the matmuls that read them by
        up to 10x on x86 CPUs, with no effect on the result beyond 1e-38. -inf gives exact zeros.
    """
    M, s = window_size, shift_size
    # Region of each row/column inside a window: 0 for an interior window; 1 or 2 in the last one.
    inner = torch.zeros(M, dtype=torch.long)
    last = torch.where(torch.arange(M) < M - s, 1, 2)
    patterns = []
    for rows, cols in ((inner, inner), (inner, last), (last, inner), (last, last)):
        region = (rows[:, None] * 3 + cols[None, :]).flatten()  # (M*M,)
        patterns.append(torch.zeros(M * M, M * M).masked_fill(region[:, None] != region[None, :], float("-inf")))
    return torch.stack(patterns)


# ----------------------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------------------


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample, scaling survivors by 1/(1-p)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class Mlp(nn.Module):
    """fc2(GELU(fc1(norm(x)))), ``norm`` being the block's pre-norm. In training neither the normalised input
    nor the GELU's output is kept for backward: both are recomputed there (layer_norm_linear, gelu_linear); at
    inference on the CPU fc1 and the GELU are one oneDNN call (ops.linear)."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, norm: nn.Module | None = None) -> torch.Tensor:
        """(..., dim) -> (..., dim); ``norm`` None means x is already normalised."""
        if torch.is_grad_enabled() and type(self.fc2) is nn.Linear:
            hidden = self.fc1(x) if norm is None else layer_norm_linear(x, norm, self.fc1)
            return gelu_linear(hidden, self.fc2.weight, self.fc2.bias)
        x = x if norm is None else norm(x)
        return linear(linear(x, self.fc1, gelu=True), self.fc2)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows, with a learned relative position bias."""

    def __init__(self, dim: int, num_heads: int, window_size: int, qkv_bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def relative_position_bias(self) -> torch.Tensor:
        """(heads, M*M, M*M) bias gathered from the table."""
        n = self.window_size * self.window_size
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]  # (N*N, heads)
        return bias.view(n, n, self.num_heads).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            x: (B, num_windows, N, C) tokens of each window, N = M*M.
            mask: (num_windows, N, N) additive SW-MSA mask, or None for W-MSA.
        Returns:
            (B, num_windows, N, C).
        """
        B, nW, N, C = x.shape
        head_dim = C // self.num_heads
        # Windows of all images are one batch of B * nW sequences: 4-D inputs take PyTorch's fused kernels.
        # (B, nW, N, 3C) -> (B * nW, N, 3, heads, d) -> (3, B * nW, heads, N, d)
        qkv = linear(x, self.qkv).view(B * nW, N, 3, self.num_heads, head_dim).permute(2, 0, 3, 1, 4)
        # the bias (heads, N, N) -> (1, heads, N, N), one for all windows; the SW-MSA mask (nW, N, N) ->
        # (nW, 1, N, N), one per window for all images and heads. 4-D, because PyTorch's CPU SDPA takes its
        # fused (flash) kernel for 4-D masks only and a 3-D one to the slower unfused math path.
        bias = self.relative_position_bias().unsqueeze(0)
        x = biased_attention(qkv, bias, None if mask is None else mask.unsqueeze(1))  # (B * nW, heads, N, d)
        # (B * nW, heads, N, d) -> (B * nW, N, heads, d) -> (B, nW, N, C)
        x = x.transpose(1, 2).reshape(B, nW, N, C)
        return linear(x, self.proj)


class SwinBlock(nn.Module):
    """Pre-norm transformer block on windows: x + attn(norm1(x)); x + mlp(norm2(x)).

    With ``shift_size > 0`` this is SW-MSA: the padded map is rolled by -shift before windowing and rolled
    back afterwards, and the attention is masked so that tokens only see their own (pre-roll) region.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        shift_before_pad: bool = False,
    ):
        super().__init__()
        if not 0 <= shift_size < window_size:
            raise ValueError(f"shift_size {shift_size} must be in [0, window_size={window_size})")
        self.window_size = window_size
        self.shift_size = shift_size
        self.shift_before_pad = shift_before_pad
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        if shift_size:
            self.register_buffer(
                "mask_patterns", shifted_window_mask_patterns(window_size, shift_size), persistent=False
            )
        else:
            self.mask_patterns = None

    def shifted_window_mask(self, n_rows: int, n_cols: int) -> torch.Tensor:
        """(n_rows * n_cols, N, N) mask for a padded map of n_rows x n_cols windows."""
        last_row = (torch.arange(n_rows, device=self.mask_patterns.device) == n_rows - 1).long()
        last_col = (torch.arange(n_cols, device=self.mask_patterns.device) == n_cols - 1).long()
        pattern = (last_row[:, None] * 2 + last_col[None, :]).flatten()  # (nW,) in row-major window order
        return self.mask_patterns[pattern]

    def _roll(self, x: torch.Tensor, sign: int) -> torch.Tensor:
        return torch.roll(x, shifts=(sign * self.shift_size, sign * self.shift_size), dims=(1, 2))

    def window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C): pad to window multiples, (shift), attend per window, undo."""
        B, H, W, C = x.shape
        M = self.window_size
        # windows per column and per row, the last ones padded. Sizes are written as ceil divisions so that
        # torch.compile's symbolic shapes stay products of a few symbols (nested "(-H) % M" forms through
        # four stages took its sympy simplifier minutes).
        n_rows, n_cols = (H + M - 1) // M, (W + M - 1) // M
        Hp, Wp = n_rows * M, n_cols * M
        pad_b, pad_r = Hp - H, Wp - W
        shift = self.shift_size > 0
        if shift and self.shift_before_pad:
            x = self._roll(x, -1)
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # zeros on the bottom / right
        if shift and not self.shift_before_pad:
            x = self._roll(x, -1)
        mask = self.shifted_window_mask(n_rows, n_cols) if shift else None
        windows = self.attn(window_partition(x, M), mask)  # (B, nW, M*M, C)
        x = window_reverse(windows, M, Hp, Wp)  # (B, Hp, Wp, C)
        if shift and not self.shift_before_pad:
            x = self._roll(x, 1)
        x = x[:, :H, :W, :]
        if shift and self.shift_before_pad:
            x = self._roll(x, 1)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        x = x + self.drop_path(self.window_attention(self.norm1(x)))
        return x + self.drop_path(self.mlp(x, self.norm2))


class PatchEmbed(nn.Module):
    """Patch partition + linear embedding as one strided conv: (B, 3, H, W) -> (B, H/4, W/4, C)."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int, norm: bool):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        p = self.patch_size
        h, w = (H + p - 1) // p, (W + p - 1) // p
        x = F.pad(x, (0, w * p - W, 0, h * p - H))  # pad bottom / right to a multiple of the patch
        x = self.proj(x).permute(0, 2, 3, 1)  # (B, C, H/p, W/p) -> (B, H/p, W/p, C)
        return self.norm(x) if self.norm is not None else x


class PatchMerging(nn.Module):
    """2x2 neighbours concatenated to 4C, LayerNorm, Linear to 2C: (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 2C).

    Concatenation order is the official one: x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2].
    """

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        h, w = (H + 1) // 2, (W + 1) // 2
        x = F.pad(x, (0, 0, 0, 2 * w - W, 0, 2 * h - H))  # odd sizes: one zero row / column at the bottom / right
        # (B, H/2, dy, W/2, dx, C) -> (B, H/2, W/2, dx, dy, C): dx-major, dy-minor is the official order
        x = x.view(B, h, 2, w, 2, C).permute(0, 1, 3, 4, 2, 5).reshape(B, h, w, 4 * C)
        return linear(self.norm(x), self.reduction)


class SwinStage(nn.Module):
    """``depth`` blocks alternating W-MSA and SW-MSA, then optional patch merging."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop_path: list[float],
        downsample: bool,
        shift_before_pad: bool = False,
    ):
        super().__init__()
        self.grad_checkpointing = False
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim,
                num_heads,
                window_size,
                shift_size=0 if i % 2 == 0 else window_size // 2,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=drop_path[i],
                shift_before_pad=shift_before_pad,
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, H, W, C) -> (stage output (B, H, W, C), input of the next stage (B, H/2, W/2, 2C))."""
        if self.grad_checkpointing and torch.is_grad_enabled():
            out = checkpoint(self.run_blocks, x, use_reentrant=False)
        else:
            out = self.run_blocks(x)
        return out, (self.downsample(out) if self.downsample is not None else out)


class SwinTransformer(nn.Module):
    """Hierarchical Swin encoder returning NCHW features at strides 4, 8, 16 and 32."""

    def __init__(self, config: SwinConfig = SwinConfig()):
        super().__init__()
        self.config = config
        c = config
        self.patch_embed = PatchEmbed(c.patch_size, c.in_chans, c.embed_dim, c.patch_norm)
        # Stochastic depth rate grows linearly from 0 to drop_path_rate over all blocks.
        rates = linear_drop_path_rates(c.drop_path_rate, sum(c.depths))
        starts = [sum(c.depths[:i]) for i in range(c.num_stages)]
        self.layers = nn.ModuleList(
            SwinStage(
                dim=c.channels[i],
                depth=c.depths[i],
                num_heads=c.num_heads[i],
                window_size=c.window_size,
                mlp_ratio=c.mlp_ratio,
                qkv_bias=c.qkv_bias,
                drop_path=rates[starts[i] : starts[i] + c.depths[i]],
                downsample=i < c.num_stages - 1,
                shift_before_pad=c.shift_before_pad,
            )
            for i in range(c.num_stages)
        )
        self.out_norms = nn.ModuleList(nn.LayerNorm(ch) for ch in c.channels) if c.out_norms else None
        self.set_grad_checkpointing(c.grad_checkpointing)
        self.apply(_init_weights)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute every stage's blocks in backward (saves activation memory, costs one more forward)."""
        for stage in self.layers:
            stage.grad_checkpointing = enable

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, in_chans, H, W) -> [(B, C * 2**i, ceil(H / 2**(i+2)), ceil(W / 2**(i+2))) for i in 0..3].

        Without autograd the features keep the tokens' layout, channels-last NCHW tensors (the heads' convolutions
        take them as they are, faster than contiguous ones); with it they are contiguous NCHW, as they train."""
        x = self.patch_embed(x)
        features = []
        for i, stage in enumerate(self.layers):
            out, x = stage(x)
            if self.out_norms is not None:
                out = self.out_norms[i](out)
            out = out.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W), channels-last in memory
            features.append(out.contiguous() if torch.is_grad_enabled() else out)
        return features


def linear_drop_path_rates(max_rate: float, n: int) -> list[float]:
    """0 for the first block, ``max_rate`` for the last, linear in between."""
    return [max_rate * i / (n - 1) if n > 1 else 0.0 for i in range(n)]


def _init_weights(module: nn.Module) -> None:
    """The official initialisation: truncated normal (std 0.02) for Linear, identity LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def resize_relative_position_bias_table(table: torch.Tensor, window_size: int) -> torch.Tensor:
    """Bicubic resize of a ``[(2M-1)^2, heads]`` table to another window size, as the official loader does."""
    old_len, heads = table.shape
    old_side, new_side = math.isqrt(old_len), 2 * window_size - 1
    if old_side == new_side:
        return table
    grid = table.permute(1, 0).reshape(1, heads, old_side, old_side)
    grid = F.interpolate(grid.float(), size=(new_side, new_side), mode="bicubic", align_corners=False)
    return grid.reshape(heads, new_side * new_side).permute(1, 0).contiguous().to(table.dtype)

