"""A 3x3 convolution of a bilinearly upsampled map, with the channel mixing done on the coarse grid.

UPerNet's ``fpn_bottleneck`` convolves the concatenation of four maps, three of them bilinearly upsampled to
stride 4. Convolution is linear, so the concatenation splits into one convolution per map. Upsampling acts on
each channel alone and a 3x3 convolution is nine 1x1 channel mixings at nine offsets, so mixing the channels
commutes with upsampling:

    conv3x3(up(f), W) = sum over taps (ky, kx) of shift_(ky-1, kx-1)( up( W[:, :, ky, kx] @ f ) )

The channel mixing (all the multiply-adds that matter: 9 * O * C per pixel) then runs on the coarse grid, s^2
times fewer pixels; what is left at the fine resolution works on each output channel alone. Two routes:

- **Any sizes, at inference** (:func:`add_resized_conv3x3_`): a bilinear resize is a matrix along each axis
  (:func:`~swinseg.models.ops.resize.interpolation_matrix`, two non-zeros a row), and so is a shift with zero
  padding (rows moved by one, zeros entering). The tap maps are resized and shifted by two matrix products, one
  along y with the three row taps stacked, one along x with the three column taps stacked, written into the
  channels-last output. Exact at the borders (the shifted matrices carry the convolution's zero padding). This
  is what makes images that are not multiples of 32 fast: ADE20K's 4:3 photos reach the network at 512x683,
  where the stride-8 level (64x86) is not a 2x fraction of stride 4 (128x171).
- **Integer factors, with autograd** (:func:`add_upsampled_conv3x3_`, training): for an integer factor s the
  upsampling is periodic, fine row ``Y = s*i + a`` (phase a) reading coarse rows ``i - 1 .. i + 1`` with
  weights that depend on a only (:func:`phase_coefficients`), so "upsample the 9 tap maps, shift and add" is
  one small convolution from 9 tap channels to s*s phase channels on the coarse grid, then a pixel shuffle,
  sliced by output channels so that the tap maps and their gradient never exist whole. Borders: bilinear
  resizing clamps at the edges, which equals replicate-padding the coarse maps by one pixel; the convolution
  zero-pads the fine map. The coarse formula therefore sees the fine map's own edge rows and columns on the ring
  around it where the convolution sees zeros; :func:`_border_ring` is what to take out.

For UPerNet Swin-T at 512x512 either takes the bottleneck from 309 to about 110 GFLOPs, with the same result up
to float rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from swinseg.models.ops.resize import interpolation_matrix, rows_read

__all__ = [
    "add_resized_conv3x3_",
    "add_upsampled_conv3x3_",
    "integer_factors",
    "phase_coefficients",
    "resized_conv3x3_kernels",
]


def integer_factors(coarse: tuple[int, int], fine: tuple[int, int]) -> tuple[int, int] | None:
    """(sy, sx) when ``fine`` is an integer multiple (>= 2 on some axis) of ``coarse``, else None."""
    (h, w), (H, W) = coarse, fine
    if H % h or W % w or (H == h and W == w):
        return None
    return H // h, W // w


@lru_cache(maxsize=None)
def phase_coefficients(s: int) -> tuple[tuple[tuple[float, float, float], ...], ...]:
    """For upsampling by ``s`` (bilinear, align_corners=False): ``C[a][k][d + 1]``, the weight of coarse row
    ``i + d`` (d in -1, 0, 1) in fine row ``s*i + a + k - 1`` (fine tap k in 0, 1, 2 of a 3x3 kernel).

    PyTorch reads fine row Y at source position ``(Y + 0.5) / s - 0.5`` (clamped at the edges, see the module
    docstring), between coarse rows ``floor(src)`` and ``floor(src) + 1``.
    """
    table = []
    for a in range(s):
        rows = []
        for k in range(3):
            offset = (a + k - 1 + 0.5) / s - 0.5  # source position minus i, in (-1.5, 1)
            below = math.floor(offset)
            frac = offset - below
            weights = [0.0, 0.0, 0.0]
            weights[below + 1] += 1.0 - frac
            if frac:  # (s = 1 reads one row exactly)
                weights[below + 2] += frac
            rows.append(tuple(weights))
        table.append(tuple(rows))
    return tuple(table)


def _tap_to_phase_kernel(sy: int, sx: int, like: torch.Tensor) -> torch.Tensor:
    """(sy * sx, 9, 3, 3): weight of coarse offset (dy, dx) of tap map (ky, kx) in phase (a, b) of the output.

    Entry ``[a * sx + b, ky * 3 + kx, dy + 1, dx + 1] = Cy[a][ky][dy + 1] * Cx[b][kx][dx + 1]``; for s = 2, 4, 8
    every weight is a multiple of 1/256, exact in any float format.
    """
    cy = like.new_tensor(phase_coefficients(sy))  # (sy, 3 taps, 3 offsets)
    cx = like.new_tensor(phase_coefficients(sx))  # (sx, 3 taps, 3 offsets)
    kernel = torch.einsum("akp,blq->abklpq", cy, cx)  # (sy, sx, ky, kx, dy, dx)
    return kernel.reshape(sy * sx, 9, 3, 3)


def _taps_major(weight: torch.Tensor) -> torch.Tensor:
    """(O, C, 3, 3) -> (O * 9, C): row ``o * 9 + ky * 3 + kx`` is tap (ky, kx) of output channel o (a copy)."""
    O, C = weight.shape[:2]
    return weight.permute(0, 2, 3, 1).reshape(O * 9, C)


# bytes of tap maps made at once: the (B * O, 9, h + 2, w + 2) maps of a level go in slices of output channels
_TAP_BYTES = 16 << 20


class _Phases(torch.autograd.Function):
    """The phase maps of one coarse level in training: its nine tap maps (the channel mixing, ``W[:, :, ky, kx] @
    x`` on the padded coarse grid) convolved with the constant tap-to-phase kernel, slice of output channels by
    slice.

    Made whole, the tap maps and their gradient are the largest tensors of the computation (160 MB each for the
    stride-8 level of a UPerNet Swin-T training step at batch 2, 512x512, where they set the step's peak memory);
    in slices of ``_TAP_BYTES`` they never exist at once. Autograd keeps the padded coarse map and the weight
    (a view of the layer's), nothing of the taps: the input's gradient through the phase convolution is the
    convolution of the incoming gradient with the kernel turned by 180 degrees and its channels swapped."""

    @staticmethod
    def forward(ctx, padded: torch.Tensor, weight: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        B, C, hp, wp = padded.shape  # the coarse map, replicate-padded by one
        O, phases = weight.shape[0], kernel.shape[0]

        def phase_maps(o: slice) -> torch.Tensor:  # (B, c, phases, h, w) for output channels o
            # (c * 9, C) @ (B, C, L) -> (B, c * 9, L) -> (B * c, 9, hp, wp), channels-last for oneDNN
            taps = torch.matmul(_taps_major(weight[o]), padded.flatten(2)).view(-1, 9, hp, wp)
            taps = taps.contiguous(memory_format=torch.channels_last)
            return F.conv2d(taps, kernel).view(B, -1, phases, hp - 2, wp - 2)

        ctx.save_for_backward(padded, weight, kernel)
        slices = _channel_slices(O, B * 9 * hp * wp * padded.element_size())
        if len(slices) == 1:
            return phase_maps(slices[0])
        out = padded.new_empty(B, O, phases, hp - 2, wp - 2)
        for o in slices:
            out[:, o] = phase_maps(o)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        padded, weight, kernel = ctx.saved_tensors
        B, C, hp, wp = padded.shape
        O, phases = weight.shape[0], kernel.shape[0]
        turned = kernel.flip(2, 3).transpose(0, 1)  # (9, phases, 3, 3)
        x = padded.flatten(2)  # (B, C, L)
        grad_x = torch.zeros_like(x) if ctx.needs_input_grad[0] else None
        grad_weight = weight.new_empty(O, 3, 3, C) if ctx.needs_input_grad[1] else None
        for o in _channel_slices(O, B * 9 * hp * wp * padded.element_size()):
            g = grad[:, o].reshape(-1, phases, hp - 2, wp - 2).contiguous(memory_format=torch.channels_last)
            grad_taps = F.conv2d(g, turned, padding=2).reshape(B, -1, hp * wp)  # (B, c * 9, L)
            if grad_x is not None:  # (C, c * 9) @ (B, c * 9, L), summed over the slices
                grad_x.baddbmm_(_taps_major(weight[o]).T.expand(B, -1, -1), grad_taps)
            if grad_weight is not None:  # (B, c * 9, L) @ (B, L, C), summed over the batch -> (c, 3, 3, C)
                grad_weight[o] = torch.matmul(grad_taps, x.transpose(1, 2)).sum(0).view(-1, 3, 3, C)
        grad_padded = None if grad_x is None else grad_x.view(B, C, hp, wp)
        grad_weight = None if grad_weight is None else grad_weight.permute(0, 3, 1, 2)  # (O, C, 3, 3)
        return grad_padded, grad_weight, None


def _channel_slices(channels: int, bytes_per_channel: int) -> list[slice]:
    """Consecutive slices of ``channels`` whose tap maps take at most ``_TAP_BYTES`` (at least one channel)."""
    step = max(1, _TAP_BYTES // bytes_per_channel)
    return [slice(start, min(start + step, channels)) for start in range(0, channels, step)]


def _border_ring(x: torch.Tensor, weight: torch.Tensor, H: int, W: int) -> tuple[torch.Tensor, ...]:
    """What to take out of a (B, O, H, W) result on its border, where the coarse formula differs from a
    zero-padded convolution: (top row (B, O, W), bottom row, left column (B, O, H), right column).

    The coarse formula sees the fine map extended by its own edge rows and columns (bilinear clamping); the
    convolution sees zeros there. The difference lives on the one-pixel ring around the fine map: the top and
    bottom rows (corners included, through kernel rows 0 and 2) and the left and right columns (corners
    excluded, through kernel columns 0 and 2).
    """

    def fine_line(coarse: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:  # one upsampled row / column
        return F.interpolate(coarse, size=size, mode="bilinear", align_corners=False).flatten(2)

    top, bottom = fine_line(x[:, :, :1], (1, W)), fine_line(x[:, :, -1:], (1, W))  # (B, C, W)
    left, right = fine_line(x[:, :, :, :1], (H, 1)), fine_line(x[:, :, :, -1:], (H, 1))  # (B, C, H)
    # 1-D convolutions along each line with one row / column of the kernel, (B, C, L + 2) -> (B, O, L)
    return (F.conv1d(F.pad(top, (1, 1), mode="replicate"), weight[:, :, 0]),
            F.conv1d(F.pad(bottom, (1, 1), mode="replicate"), weight[:, :, 2]),
            F.conv1d(F.pad(left, (1, 1)), weight[:, :, :, 0]),
            F.conv1d(F.pad(right, (1, 1)), weight[:, :, :, 2]))  # fmt: skip


class _AddPhasesAndRing(torch.autograd.Function):
    """``out`` += the interleaved phases, -= the border ring, in place, as one autograd node.

    The same updates as plain in-place ops on views of ``out`` would each put a CopySlices node in the graph,
    whose backward clones the whole gradient and zero-fills a buffer: in a UPerNet Swin-T training step (batch
    2, 512x512) 27 copies and 12 fills of 64 MB maps, about 0.6 s of its 9.4 s. Here the backward passes the
    gradient on, a strided view of it for the phases and its negated edge lines for the ring."""

    @staticmethod
    def forward(ctx, out: torch.Tensor, phases: torch.Tensor, top: torch.Tensor, bottom: torch.Tensor,
                left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:  # fmt: skip
        B, O, sy, sx, h, w = phases.shape
        ctx.shape = (B, O, h, sy, w, sx)
        # phase (a, b) of coarse pixel (i, j) is fine pixel (s*i + a, s*j + b):
        # out (B, O, H, W) -> (B, O, h, sy, w, sx) -> (B, O, sy, sx, h, w), the phases' layout
        out.view(B, O, h, sy, w, sx).permute(0, 1, 3, 5, 2, 4).add_(phases)
        out[:, :, 0] -= top
        out[:, :, -1] -= bottom
        out[:, :, :, 0] -= left
        out[:, :, :, -1] -= right
        ctx.mark_dirty(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        phases = grad.reshape(ctx.shape).permute(0, 1, 3, 5, 2, 4)
        return grad, phases, -grad[:, :, 0], -grad[:, :, -1], -grad[:, :, :, 0], -grad[:, :, :, -1]


def add_upsampled_conv3x3_(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``out += F.conv2d(F.interpolate(x, out.shape[2:], mode="bilinear", align_corners=False), weight,
    padding=1)``, with the channel mixing on the coarse grid and without building the upsampled input.

    Args:
        out: (B, O, H, W), updated in place and returned.
        x: (B, C, h, w) coarse map; (H, W) must be integer multiples of (h, w) (see :func:`integer_factors`).
        weight: (O, C, 3, 3) kernel, no bias.
    """
    B, C, h, w = x.shape
    O = weight.shape[0]
    factors = integer_factors((h, w), tuple(out.shape[2:]))
    if factors is None or weight.shape[1:] != (C, 3, 3):
        raise ValueError(f"need a (O, {C}, 3, 3) kernel and an output size that is a multiple of {(h, w)}, got "
                         f"{tuple(weight.shape)} and {tuple(out.shape[2:])}")
    sy, sx = factors
    # the channel mixing of all nine taps and the phase convolution, on the replicate-padded coarse map (bilinear
    # clamps at edges), slice of output channels by slice
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    phases = _Phases.apply(padded, weight, _tap_to_phase_kernel(sy, sx, x))  # (B, O, sy * sx, h, w)
    ring = _border_ring(x, weight, *out.shape[2:])
    return _AddPhasesAndRing.apply(out, phases.view(B, O, sy, sx, h, w), *ring)


# ----------------------------------------------------------------------------------------------------------
# Any sizes, at inference: resizing and shifting as matrix products
# ----------------------------------------------------------------------------------------------------------


# output rows (columns) resized at a time by add_resized_conv3x3_: a band reads about 64 / s + 3 source rows, where
# the whole matrix would read all h (at 2048x2048 the stride-8 level's 256: 1.8x slower than banded, 2-vCPU Xeon)
_BAND = 64


@lru_cache(maxsize=32)
def _shifted_resize(
    src: int, dst: int, dtype: torch.dtype, band: int
) -> tuple[torch.Tensor, tuple[tuple[slice, slice], ...]]:
    """The weights of the bilinear resize from ``src`` to ``dst`` positions for the three taps of a 3x3
    convolution, on the CPU, and the bands they are used in.

    Weights (3, dst, src): ``[k, Y]`` holds the weights with which position ``Y + k - 1`` of the resize reads the
    source; all zero where ``Y + k - 1`` is outside (the zero padding of the convolution's tap k). Bands:
    ``(outputs, sources)`` slices, ``band`` outputs at a time and the source positions that any of their three
    taps reads. The sizes alone decide both, so they are made on the CPU, where values can be read (FLOP
    counting runs the model on the ``meta`` device).
    """
    # (dst + 2, src): the resize's rows with a zero row at each end
    padded = F.pad(interpolation_matrix(src, dst, dtype, "cpu"), (0, 0, 1, 1))
    weights = torch.stack([padded[k : k + dst] for k in range(3)])
    used = (weights != 0).any(0)  # (dst, src)
    bands = []
    for start in range(0, dst, band):
        stop = min(start + band, dst)
        lo, hi = rows_read(used[start:stop])
        bands.append((slice(start, stop), slice(lo, hi)))
    return weights, tuple(bands)


def resized_conv3x3_kernels(weight: torch.Tensor) -> torch.Tensor:
    """(O, C, 3, 3) -> (3, C, 3 * O), the layout :func:`add_resized_conv3x3_` mixes channels with: ``[ky, c,
    kx * O + o] = weight[o, c, ky, kx]`` (a copy: derive it once per weight)."""
    O, C = weight.shape[:2]
    return weight.permute(2, 1, 3, 0).reshape(3, C, 3 * O)


def add_resized_conv3x3_(out: torch.Tensor, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """``out += F.conv2d(F.interpolate(x, out.shape[2:], mode="bilinear", align_corners=False), weight,
    padding=1)`` for any sizes, with the channel mixing on the coarse grid; no autograd (inference).

    Args:
        out: (B, O, H, W), updated in place and returned; channels-last (the layout written to; another is
            computed in a channels-last copy and copied back).
        x: (B, C, h, w) coarse map, channels-last preferably (its pixels are then rows of a matrix as they lie).
        kernels: (3, C, 3 * O) from :func:`resized_conv3x3_kernels`.

    One image at a time, so that the tap maps held are one image's: (3, h, w, 3, O) and (H, w, 3, O). The
    resize matrices are used in bands (:func:`_shifted_resize`): the work grows with the pixels, not their square.
    """
    B, C, h, w = x.shape
    H, W = out.shape[2:]
    O = kernels.shape[2] // 3
    if kernels.shape != (3, C, 3 * O) or out.shape[:2] != (B, O):
        raise ValueError(f"need (3, {C}, 3 * O) kernels and a (B={B}, O, H, W) output, got {tuple(kernels.shape)} "
                         f"and {tuple(out.shape)}")  # fmt: skip
    channels_last = out.is_contiguous(memory_format=torch.channels_last)
    target = out if channels_last else out.contiguous(memory_format=torch.channels_last)
    # everything in the output's dtype: in-place and out= products are not cast by autocast
    dtype = out.dtype
    x, kernels = x.to(dtype), kernels.to(dtype)
    rows, row_bands = _shifted_resize(h, H, dtype, _BAND)  # (3 ky, H, h)
    cols, col_bands = _shifted_resize(w, W, dtype, _BAND)  # (3 kx, W, w)
    rows = rows.to(x.device)
    cols = cols.permute(1, 2, 0).reshape(W, w * 3).to(x.device)  # [X, x * 3 + kx]
    for image, result in zip(x, target):
        pixels = image.permute(1, 2, 0).reshape(h * w, C)  # (h * w, C), a view of a channels-last map
        # channel mixing, tap row by tap row: taps[ky] = (h * w, C) @ (C, 3 * O), laid out (3 ky, h, w, 3 kx, O)
        taps = x.new_empty(3, h, w * 3 * O)
        for ky in range(3):
            torch.mm(pixels, kernels[ky], out=taps[ky].view(h * w, 3 * O))
        # along y, the three tap rows summed, band by band: (Y rows, y rows) @ (y rows, w * 3 * O) -> (H, w, 3, O)
        along_y = x.new_empty(H, w * 3 * O)
        # (out= forms, not addmm_ / baddbmm_, which torch's FLOP counter does not count)
        for ys, yr in row_bands:
            torch.mm(rows[0, ys, yr], taps[0, yr], out=along_y[ys])
            for ky in (1, 2):
                torch.addmm(along_y[ys], rows[ky, ys, yr], taps[ky, yr], out=along_y[ys])
        along_y = along_y.view(H, w * 3, O)
        # along x, the three tap columns summed, band by band, per output row: (X cols, 3 x cols) @ (3 x cols, O)
        # into (H, X cols, O) of the channels-last output's own memory
        pixel_major = result.permute(1, 2, 0)  # (H, W, O)
        for xs, xr in col_bands:
            band = cols[xs, xr.start * 3 : xr.stop * 3]
            taps_x = along_y[:, xr.start * 3 : xr.stop * 3]  # (H, 3 x cols, O)
            torch.baddbmm(pixel_major[:, xs], band.expand(H, *band.shape), taps_x, out=pixel_major[:, xs])
    if target is not out:
        out.copy_(target)
    return out
