"""A 3x3 convolution of a map upsampled 2x by nearest neighbour, computed on the coarse grid.

smp's U-Net decoder upsamples each map 2x (nearest), concatenates the skip and convolves (3x3, zero padding 1).
Every fine pixel ``(2i + a, 2j + b)`` of an upsampled map is its coarse pixel ``(i, j)``, so a 3x3 kernel over
the fine map reads, for output phase ``a``, only two coarse rows: rows ``i - 1, i`` for ``a = 0`` (kernel rows 0
and 1 + 2) and rows ``i, i + 1`` for ``a = 1`` (kernel rows 0 + 1 and 2); columns likewise. The convolution of the
upsampled map is then four 2x2 convolutions of the coarse map, one per phase (a, b), with kernels made of sums
of the 3x3 kernel's taps (:func:`phase_kernels`), their outputs interleaved: 16 multiply-adds per channel pair
and coarse pixel instead of 36, with no upsampled map built. The zero padding agrees too: the fine map's ring of
zeros is the coarse map's ring of zeros, so the result equals the direct one up to float rounding, borders
included.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

__all__ = ["add_nearest2x_conv3x3_", "nearest2x_conv3x3", "phase_kernels"]

# _FOLD[a, p, k]: 1 where 3x3 kernel row k falls on coarse offset p of output phase a; phase 0 reads offsets
# (-1, 0) with kernel rows (0), (1, 2), phase 1 offsets (0, +1) with rows (0, 1), (2). Columns likewise.
_FOLD = ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)), ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def phase_kernels(weight: torch.Tensor) -> torch.Tensor:
    """(O, C, 3, 3) -> (4 * O, C, 2, 2): the 2x2 coarse kernel of phase (a, b) at output channels
    ``(2 * a + b) * O ... (2 * a + b + 1) * O``, its first row / column on the phase's first offset.

    Sums of taps, so it costs a pass over the weight: callers that run the same weight often cache it."""
    O, C = weight.shape[:2]
    fold = weight.new_tensor(_FOLD).view(4, 3)  # (a * 2 + p, k)
    # (O * C, 3, 3) -> fold rows and columns -> (O * C, (a, p), (b, q)) -> (a, b, O, C, p, q)
    folded = fold @ weight.reshape(O * C, 3, 3) @ fold.T
    return folded.view(O, C, 2, 2, 2, 2).permute(2, 4, 0, 1, 3, 5).reshape(4 * O, C, 2, 2)


def _phases_and_targets(out: torch.Tensor, x: torch.Tensor, kernels: torch.Tensor,
                        bias: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # fmt: skip
    """The four (phase of ``out``, its values) view pairs of the convolution of ``x`` upsampled 2x, each view
    made when it is due (under autograd a view of ``out`` must be taken after the previous update)."""
    B, C, h, w = x.shape
    O = kernels.shape[0] // 4
    if kernels.shape[1:] != (C, 2, 2) or tuple(out.shape) != (B, O, 2 * h, 2 * w):
        raise ValueError(f"need (4 * O, {C}, 2, 2) phase kernels and a (B, O, {2 * h}, {2 * w}) output, got "
                         f"{tuple(kernels.shape)} and {tuple(out.shape)}")  # fmt: skip
    # Padded by one coarse pixel, a 2x2 kernel at output (p, q) reads coarse rows p - 1, p and columns q - 1, q:
    # phase (a, b) of coarse pixel (i, j) is output (i + a, j + b). (B, C, h, w) -> (B, 4 * O, h + 1, w + 1)
    phases = F.conv2d(x, kernels, None if bias is None else bias.repeat(4), padding=1)
    for a in range(2):
        for b in range(2):
            k = 2 * a + b
            yield out[:, :, a::2, b::2], phases[:, k * O : (k + 1) * O, a : a + h, b : b + w]


def add_nearest2x_conv3x3_(out: torch.Tensor, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """``out += F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, padding=1)``, returned.

    Args:
        out: (B, O, 2h, 2w), updated in place.
        x: (B, C, h, w).
        kernels: (4 * O, C, 2, 2), ``phase_kernels(weight)`` of the (O, C, 3, 3) kernel (no bias).
    """
    for target, values in _phases_and_targets(out, x, kernels, None):
        target += values
    return out


def nearest2x_conv3x3(x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)``: (B, C, h, w) ->
    (B, O, 2h, 2w) in ``x``'s memory format, from ``kernels = phase_kernels(weight)``. The four phases cover
    every output pixel once: they are copied in, with nothing to zero first."""
    B, _, h, w = x.shape
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    out = torch.empty(B, kernels.shape[0] // 4, 2 * h, 2 * w, dtype=x.dtype, device=x.device, memory_format=layout)
    for target, values in _phases_and_targets(out, x, kernels, bias):
        target.copy_(values)
    return out
