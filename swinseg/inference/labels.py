"""Labels (and confidence, probabilities) at the original image size from scores at the network's size,
without holding the resized scores of all classes at once.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from swinseg.core.memory import (
    BOUNDARY_CHUNK_ELEMENTS,
    RESIZED_CHUNK_ELEMENTS,
    SLAB_ELEMENTS,
)
from swinseg.models.ops.resize import (
    bilinear_sources,
    interpolation_matrix,
    rows_read,
)

__all__ = ["labels_from_scores", "resized_argmax"]


def _resized_argmax_by_row_slabs(
    scores: Tensor, out_size: tuple[int, int], max_elements: int, via: tuple[int, int] | None = None
) -> Tensor:
    """The argmax of the resized scores (resized to ``via`` first, then to ``out_size``, when ``via`` is
    given), a slab of output rows at a time with all classes of a slab in cache. Along each axis the resize is
    a matrix (:func:`interpolation_matrix`, both resizes composed); a slab's source rows are resized along x
    by a product with the column matrix (dense: a few non-zeros a row, yet faster than two ``F.interpolate``
    passes over the class maps: 150 classes, 128x171 -> 375x500 via 512x683, 67-78 -> 42-45 ms on the 2-vCPU
    Xeon), then along y by its rows of the row matrix."""
    k, h, w = scores.shape
    H, W = out_size
    via_h, via_w = via if via is not None else (H, W)
    ry = _composed_interpolation(h, via_h, H, scores)  # (H, h)
    rx = _composed_interpolation(w, via_w, W, scores)  # (W, w)
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
    scores: Tensor, out_size: tuple[int, int], max_elements: int = BOUNDARY_CHUNK_ELEMENTS, via: tuple[int, int] | None = None
) -> Tensor:
    """``F.interpolate(scores[None], out_size, mode="bilinear").argmax(1)[0]`` for scores (K, h, w) -> labels
    (H, W), without resizing all K maps.

    With ``via`` = (h', w'), the scores are resized to ``via`` first, as a segmentor's head logits are resized
    to its input before the resize to the image's size (both resizes composed, a slab of rows at a time,
    without holding either resized map: :func:`_resized_argmax_by_row_slabs`).

    A resized pixel is a weighted mean (weights >= 0) of four source pixels; where those four share their top
    class, that class is also the top class of the mean (rounding is monotone), so it is taken as it is. Only
    pixels whose sources disagree (along class boundaries) are interpolated, ``max_elements`` values at a time.
    Equal to the full computation except where two classes tie within float rounding.
    """
    if via is not None and tuple(via) != tuple(scores.shape[1:]):
        return _resized_argmax_by_row_slabs(scores, out_size, max_elements, tuple(via))
    coarse = scores.max(0).indices  # (h, w), the first on ties like argmax, and 2-3x faster over dim 0 on CPUs
    (h, w), (H, W) = scores.shape[1:], out_size
    if (h, w) == (H, W):
        return coarse
    y0, y1, wy = bilinear_sources(h, H, scores.device)
    x0, x1, wx = bilinear_sources(w, W, scores.device)
    corners = [coarse[ys][:, xs] for ys in (y0, y1) for xs in (x0, x1)]  # 4 x (H, W): top-left .. bottom-right
    labels = corners[0].clone()
    rows, cols = ((corners[0] != corners[1]) | (corners[0] != corners[2]) | (corners[0] != corners[3])).nonzero(
        as_tuple=True
    )
    if rows.numel() > H * W // 4:  # mostly boundaries (noise): resizing all is cheaper than gathering
        return _resized_argmax_by_row_slabs(scores, out_size, max_elements)
    step = max(1, max_elements // (4 * scores.shape[0]))
    for start in range(0, rows.numel(), step):
        r, c = rows[start : start + step], cols[start : start + step]
        top = scores[:, y0[r], x0[c]] * (1 - wx[c]) + scores[:, y0[r], x1[c]] * wx[c]  # (K, n)
        bottom = scores[:, y1[r], x0[c]] * (1 - wx[c]) + scores[:, y1[r], x1[c]] * wx[c]
        labels[r, c] = (top * (1 - wy[r]) + bottom * wy[r]).max(0).indices
    return labels


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
