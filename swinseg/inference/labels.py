"""Labels (and confidence, probabilities) at the original image size from scores at the network's size,
without holding the resized scores of all classes at once.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from swinseg.core.memory import BOUNDARY_ELEMENTS, RESIZED_CHUNK_ELEMENTS, SLAB_ELEMENTS
from swinseg.models.ops.resize import (
    interpolation_matrix,
    rows_read,
)

__all__ = ["labels_from_scores", "resized_argmax"]


def _resized_argmax_by_row_slabs(scores: Tensor, ry: Tensor, rx: Tensor, max_elements: int) -> Tensor:
    """The argmax of the scores (K, h, w) resized by the matrices ``ry`` (H, h) and ``rx`` (W, w) (one resize
    or two composed: :func:`_composed_interpolation`), a slab of output rows at a time with all classes of a
    slab in cache: a slab's source rows are resized along x by a product with the column matrix (dense: a few
    non-zeros a row, yet faster than two ``F.interpolate`` passes over the class maps: 150 classes, 128x171 ->
    375x500 via 512x683, 67-78 -> 42-45 ms on the 2-vCPU Xeon), then along y by its rows of the row matrix."""
    k, h, w = scores.shape
    H, W = ry.shape[0], rx.shape[0]
    rxt = rx.T.contiguous()  # (w, W)
    per_slab = max(1, min(max_elements, SLAB_ELEMENTS) // (k * W))
    labels = torch.empty((H, W), dtype=torch.long, device=scores.device)
    for top in range(0, H, per_slab):
        bottom = min(top + per_slab, H)
        lo, hi = rows_read(ry[top:bottom])  # the source rows these output rows read
        along_x = (scores[:, lo:hi].reshape(-1, w) @ rxt).view(k, hi - lo, W)  # one (K * rows, w) @ (w, W)
        rows = ry[top:bottom, lo:hi] @ along_x  # (K, bottom - top, W)
        labels[top:bottom] = rows.max(0).indices
    return labels


def _composed_interpolation(src: int, via: int, dst: int, like: Tensor) -> Tensor:
    """(dst, src): the resize from ``src`` to ``via`` positions followed by the one from ``via`` to ``dst``."""
    first = interpolation_matrix(src, via, like.dtype, like.device)
    return first if via == dst else interpolation_matrix(via, dst, like.dtype, like.device) @ first


def resized_argmax(
    scores: Tensor, out_size: tuple[int, int], max_elements: int = SLAB_ELEMENTS, via: tuple[int, int] | None = None
) -> Tensor:
    """``F.interpolate(scores[None], out_size, mode="bilinear").argmax(1)[0]`` for scores (K, h, w) -> labels
    (H, W), without resizing all K maps, at most ``max_elements`` values at a time.

    With ``via`` = (h', w'), the scores are resized to ``via`` first, as a segmentor's head logits are resized
    to its input before the resize to the image's size (both resizes composed into one matrix an axis).

    A resized pixel is a weighted mean (weights >= 0) of a few source pixels (a 2x2 block for one resize, up to
    3x3 for two); where those share their top class, that class is also the top class of the mean (rounding is
    monotone), so it is taken as it is. Only pixels whose sources disagree (along class boundaries) are
    interpolated (:func:`_window_argmax`); where those are many (noise), all pixels are resized a slab of rows
    at a time (:func:`_resized_argmax_by_row_slabs`). Equal to the full computation except where two classes
    tie within float rounding.
    """
    coarse = scores.max(0).indices  # (h, w), the first on ties like argmax, and 2-3x faster over dim 0 on CPUs
    (h, w), (H, W) = scores.shape[1:], tuple(out_size)
    via_h, via_w = tuple(via) if via is not None else (H, W)
    if (h, w) == (H, W) == (via_h, via_w):
        return coarse
    ry = _composed_interpolation(h, via_h, H, scores)  # (H, h)
    rx = _composed_interpolation(w, via_w, W, scores)  # (W, w)
    top, row_weights = _source_windows(ry)  # (H,), (H, height)
    left, col_weights = _source_windows(rx)  # (W,), (W, width)
    height, width = row_weights.shape[1], col_weights.shape[1]
    agree = _one_class_windows(coarse, height, width)  # (h - height + 1, w - width + 1)
    # Where many windows hold a boundary (noise), resizing every pixel is cheaper: a boundary pixel costs about
    # twice a slab's pixel (2-vCPU Xeon, 150 classes, 3x3 windows). The output samples the windows evenly, so
    # their share on the source grid stands for the output pixels'.
    if height * width > 16 or (~agree).float().mean() > 1 / 3:
        return _resized_argmax_by_row_slabs(scores, ry, rx, max_elements)
    rows, cols = (~agree[top][:, left]).nonzero(as_tuple=True)  # output pixels whose sources disagree
    labels = coarse[top][:, left]  # the class of each output pixel's window (where it is one class)
    labels[rows, cols] = _window_argmax(scores, (top[rows], row_weights[rows]), (left[cols], col_weights[cols]),
                                        min(max_elements, BOUNDARY_ELEMENTS))  # fmt: skip
    return labels


def _window_argmax(
    scores: Tensor, rows: tuple[Tensor, Tensor], cols: tuple[Tensor, Tensor], max_elements: int
) -> Tensor:
    """The top class (n,) of n weighted means of windows of ``scores`` (K, h, w): ``rows`` = (first row (n,),
    weights (n, height)) of each window, ``cols`` = (first column (n,), weights (n, width)); ``max_elements``
    // K windows at a time."""
    (k, h, w), (top, row_weights), (left, col_weights) = scores.shape, rows, cols
    height, width = row_weights.shape[1], col_weights.shape[1]
    # the scores as a table to gather from: pixel-major (h * w, K) where copying them so pays for itself (many
    # windows for the source's size), else as they are, class-major (K, h * w)
    pixel_major = h * w < top.numel() * height * width
    table = scores.permute(1, 2, 0).contiguous().view(h * w, k) if pixel_major else scores.reshape(k, h * w)
    dim = 0 if pixel_major else 1  # the table's pixel dimension
    labels = torch.empty(top.shape, dtype=torch.long, device=scores.device)
    step = max(1, max_elements // k)
    for start in range(0, top.numel(), step):
        part = slice(start, start + step)
        corner, wy, wx = top[part] * w + left[part], row_weights[part], col_weights[part]
        shape = (corner.numel(), k) if pixel_major else (k, corner.numel())
        mean = torch.zeros(shape, dtype=scores.dtype, device=scores.device)
        source = torch.empty_like(mean)
        for dy in range(height):
            for dx in range(width):
                torch.index_select(table, dim, corner + (dy * w + dx), out=source)
                mean.addcmul_(source, (wy[:, dy] * wx[:, dx]).unsqueeze(1 - dim))
        labels[part] = mean.max(1 - dim).indices
    return labels


def _source_windows(weights: Tensor) -> tuple[Tensor, Tensor]:
    """For an (out, src) resize matrix, a window of ``size`` consecutive source positions holding every non-zero
    weight of each output position, ``size`` the same for all: the windows' first positions (out,) (long) and
    the weights inside them (out, size)."""
    src = weights.shape[1]
    nonzero = weights != 0
    first = nonzero.to(torch.uint8).argmax(dim=1)
    last = src - 1 - nonzero.flip(1).to(torch.uint8).argmax(dim=1)
    size = int((last - first).max()) + 1
    first.clamp_(max=src - size)
    return first, weights.gather(1, first[:, None] + torch.arange(size, device=weights.device))


def _one_class_windows(labels: Tensor, height: int, width: int) -> Tensor:
    """(h - height + 1, w - width + 1) bool: whether the ``height`` x ``width`` window of ``labels`` (h, w) at
    each position holds a single class (its largest label equals its smallest; labels are exact in float32)."""
    as_float = labels.float()[None, None]
    largest = F.max_pool2d(as_float, (height, width), stride=1)
    smallest = -F.max_pool2d(-as_float, (height, width), stride=1)
    return (largest == smallest)[0, 0]


# logits resized to the original size are processed this many values at a time (a few classes per step for a
# 12-megapixel photo), so 150 classes x 12 MP (7 GB in float32) never sit in memory at once
MAX_ELEMENTS = 1 << 25


def labels_from_scores(
    scores: Tensor,
    out_size: tuple[int, int],
    are_probs: bool = False,
    confidence: bool = False,
    probs: bool = False,
    max_elements: int = RESIZED_CHUNK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(K, h, w) scores of one image -> labels (H, W) uint8, confidence (H, W) float32 or None, probabilities
    (K, H, W) float16 or None, all at ``out_size`` = (H, W).

    Logits (``are_probs=False``) are resized to ``out_size`` (bilinear, align_corners False, as
    :func:`swinseg.inference.logits.predict_logits`) a few classes at a time, keeping a running maximum, argmax
    (the first class on ties, as ``argmax``) and log-sum-exp, so memory stays near ``max_elements`` values
    whatever the number of classes; the labels equal ``predict_logits(...).argmax(1)`` (labels alone come from
    :func:`resized_argmax`, which resizes boundary pixels only). Confidence is the top
    softmax probability; ``probs`` takes a second pass. Probabilities (``are_probs=True``, TTA) must already be
    at ``out_size``.
    """
    if are_probs:
        if tuple(scores.shape[1:]) != tuple(out_size):
            raise ValueError(f"probabilities of size {tuple(scores.shape[1:])}, expected {tuple(out_size)}")
        best, labels = scores.max(0)
        return (
            labels.to(torch.uint8).cpu().numpy(),
            best.float().cpu().numpy() if confidence else None,
            scores.half().cpu().numpy() if probs else None,
        )
    if not (confidence or probs):  # labels only: resize just the pixels on class boundaries
        return resized_argmax(scores.float(), out_size).to(torch.uint8).cpu().numpy(), None, None
    k = scores.shape[0]
    step = max(1, max_elements // max(out_size[0] * out_size[1], 1))

    def resized(k0: int) -> Tensor:  # (c, H, W) logits of classes k0 .. k0 + step - 1
        chunk = scores[None, k0 : k0 + step].float()
        if tuple(chunk.shape[2:]) != tuple(out_size):
            chunk = F.interpolate(chunk, size=out_size, mode="bilinear", align_corners=False)
        return chunk[0]

    best = labels = lse = None
    for k0 in range(0, k, step):
        chunk = resized(k0)
        index = chunk.argmax(0)
        value = chunk.gather(0, index[None])[0]
        if best is None:
            best, labels = value, index
        else:
            better = value > best  # strictly: an equal later class does not replace the first
            best, labels = torch.where(better, value, best), torch.where(better, index + k0, labels)
        if confidence or probs:
            part = torch.logsumexp(chunk, 0)
            lse = part if lse is None else torch.logaddexp(lse, part)
    conf = torch.exp(best - lse).cpu().numpy() if confidence else None
    prob_array = None
    if probs:
        prob_array = np.empty((k, *out_size), np.float16)
        for k0 in range(0, k, step):
            prob_array[k0 : k0 + step] = torch.exp(resized(k0) - lse).half().cpu().numpy()
    return labels.to(torch.uint8).cpu().numpy(), conf, prob_array
