"""Inference with mmsegmentation's rules: whole image, sliding window, multi-scale + flip test-time augmentation.

The model maps normalised images (B, 3, h, w) to logits (B, K, h, w) at any size, in eval mode.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from swinseg.models.uper_head import interpolation_matrix, rows_read

__all__ = [
    "TTA_SCALES",
    "default_stride",
    "predict_logits",
    "resized_argmax",
    "slide_inference",
    "slide_labels",
    "whole_inference",
    "window_starts",
]


# Values resized at a time where a whole map need not be held: ~8 MB of float32, about what stays in cache.
SLAB_ELEMENTS = 1 << 21


def _run(model: nn.Module, images: Tensor) -> Tensor:
    logits = model(images)
    if not isinstance(logits, Tensor) or logits.shape[0] != images.shape[0] or logits.shape[2:] != images.shape[2:]:
        raise ValueError("the model must return logits (B, K, H, W) at its input size; is it in eval mode?")
    return logits


def whole_inference(model: nn.Module, images: Tensor) -> Tensor:
    """(B, 3, H, W) -> logits (B, K, H, W) in one forward pass."""
    with torch.inference_mode():
        return _run(model, images)

# mmsegmentation's ADE20K multi-scale test: these ratios of the test scale, each also flipped
TTA_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def default_stride(crop_size: tuple[int, int]) -> tuple[int, int]:
    """Two thirds of the crop: 512 -> 341, mmsegmentation's ADE20K sliding-window setting."""
    return crop_size[0] * 2 // 3, crop_size[1] * 2 // 3


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Start offsets of mmsegmentation's sliding windows along one axis: ``max(size - crop + stride - 1, 0) //
    stride + 1`` windows every ``stride`` pixels, the last ones moved back to end at the border (a crop larger
    than the image starts at 0 and is cut to the image)."""
    n = max(size - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(n)]


def slide_inference(
    model: nn.Module,
    images: Tensor,
    num_classes: int,
    crop_size: tuple[int, int] = (512, 512),
    stride: tuple[int, int] = (341, 341),
) -> Tensor:
    """(B, 3, H, W) -> logits (B, K, H, W) from overlapping ``crop_size`` windows, as ``EncoderDecoder.
    slide_inference``: the logits of each window are added at its place and divided by how many windows cover each
    pixel. The B images of a window go through the model together; a crop larger than the image is the image itself
    (no padding)."""
    (crop_h, crop_w), (stride_h, stride_w) = crop_size, stride
    b, _, h, w = images.shape
    logits = images.new_zeros((b, num_classes, h, w))
    count = images.new_zeros((1, 1, h, w))
    with torch.inference_mode():
        for y1 in window_starts(h, crop_h, stride_h):
            y2 = min(y1 + crop_h, h)
            for x1, x2, crop_logits in _row_of_windows(model, images, num_classes, (y1, y2), crop_w, stride_w):
                logits[:, :, y1:y2, x1:x2] += crop_logits  # = mmseg's F.pad(crop) added to the whole map
                count[:, :, y1:y2, x1:x2] += 1
    return logits / count


def _row_of_windows(
    model: nn.Module, images: Tensor, num_classes: int, rows: tuple[int, int], crop_w: int, stride_w: int
) -> Iterator[tuple[int, int, Tensor]]:
    """Logits of the windows covering image rows ``rows`` = (y1, y2), left to right: (x1, x2, (B, K, y2 - y1,
    x2 - x1)) each."""
    y1, y2 = rows
    w = images.shape[3]
    for x1 in window_starts(w, crop_w, stride_w):
        x2 = min(x1 + crop_w, w)
        crop_logits = _run(model, images[:, :, y1:y2, x1:x2])
        if crop_logits.shape[1] != num_classes:
            raise ValueError(f"the model gives {crop_logits.shape[1]} classes, not num_classes={num_classes}")
        yield x1, x2, crop_logits
        del crop_logits  # not held through the next window's forward pass


def _coverage(size: int, crop: int, stride: int) -> Tensor:
    """(size,) float32: how many sliding windows cover each position along one axis."""
    cover = torch.zeros(size)
    for start in window_starts(size, crop, stride):
        cover[start : start + crop] += 1
    return cover


def slide_labels(
    model: nn.Module,
    images: Tensor,
    num_classes: int,
    crop_size: tuple[int, int] = (512, 512),
    stride: tuple[int, int] = (341, 341),
) -> Tensor:
    """``slide_inference(...).argmax(1)`` without holding the logits of the whole image: (B, 3, H, W) -> labels
    (B, H, W), uint8 for up to 256 classes (int32 above). The same labels: the same sums in the same order.

    Windows go row by row, left to right. A window's logits are summed into a ``tile`` one window in size that
    starts at the window; once the window is done, the tile's columns left of the next window are complete
    for this row of windows. Of those columns, the rows above the next row of windows are final (averaged by
    the number of windows covering them, turned into labels), and the rows below it go to ``carry``, the sums
    that the next row of windows continues. Memory: ``B x K`` times one crop plus the overlap of two rows of
    windows times the width (``crop_h - stride_h`` rows), instead of ``2 x B x K x H x W`` floats.
    """
    (crop_h, crop_w), (stride_h, stride_w) = crop_size, stride
    if stride_h > crop_h or stride_w > crop_w:
        raise ValueError(f"stride {stride} larger than the crop {crop_size} leaves pixels that no window covers")
    b, _, h, w = images.shape
    labels = torch.empty((b, h, w), dtype=torch.uint8 if num_classes <= 256 else torch.int32, device=images.device)
    rows, columns = window_starts(h, crop_h, stride_h), window_starts(w, crop_w, stride_w)
    next_rows, next_columns = rows[1:] + [h], columns[1:] + [w]
    # a row of windows [top, bottom) finalises image rows [top, next top) and carries rows [next top, bottom)
    overlap = max(min(top + crop_h, h) - next_top for top, next_top in zip(rows, next_rows))
    carry = images.new_zeros((b, num_classes, overlap, w))  # carry row r: image row (current top) + r
    cover_y, cover_x = _coverage(h, crop_h, stride_h).to(images), _coverage(w, crop_w, stride_w).to(images)
    carried = 0  # rows of `carry` that hold sums (0 before the first row of windows)
    with torch.inference_mode():
        for top, next_top in zip(rows, next_rows):
            bottom = min(top + crop_h, h)
            done = next_top - top
            tile = images.new_zeros((b, num_classes, bottom - top, min(crop_w, w)))  # tile column c: x1 + c
            entered = 0  # image columns [0, entered) have been in the tile
            following = iter(next_columns)  # (not zip: it would keep the last window's logits alive)
            for x1, x2, crop_logits in _row_of_windows(model, images, num_classes, (top, bottom), crop_w, stride_w):
                next_x1 = next(following)
                tile[:, :, :carried, entered - x1 : x2 - x1] += carry[:, :, :carried, entered:x2]
                entered = x2
                tile[:, :, :, : x2 - x1] += crop_logits
                width = min(next_x1, x2) - x1  # tile columns that no later window in this row reaches
                count = cover_y[top:next_top, None] * cover_x[x1 : x1 + width]  # windows over each pixel
                final = (tile[:, :, :done, :width] / count).argmax(1)
                labels[:, top:next_top, x1 : x1 + width] = final.to(labels.dtype)
                carry[:, :, : bottom - next_top, x1 : x1 + width] = tile[:, :, done:, :width]
                # move the tile right to the next window: keep its overlap with it, zero the rest
                kept = tile[:, :, :, width:].clone()
                tile.zero_()[:, :, :, : kept.shape[3]] = kept
                del crop_logits, final, kept  # none of them held through the next window's forward pass
            carried = bottom - next_top
    return labels


def _bilinear_sources(size: int, out: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """For each of ``out`` positions, PyTorch's bilinear (align_corners=False) sources along one axis: the two
    input indices (long) and the weight of the second (float32)."""
    scale = size / out
    src = ((torch.arange(out, device=device, dtype=torch.float32) + 0.5) * scale - 0.5).clamp_(min=0)
    first = src.long().clamp_(max=size - 1)  # floor, as src >= 0
    second = (first + 1).clamp_(max=size - 1)
    return first, second, src - first


def _resized_argmax_by_row_slabs(
    scores: Tensor, out_size: tuple[int, int], max_elements: int, via: tuple[int, int] | None = None
) -> Tensor:
    """The argmax of the resized scores (resized to ``via`` first, then to ``out_size``, when ``via`` is
    given), a slab of output rows at a time with all classes of a slab in cache: the rows are interpolated
    with their rows of :func:`interpolation_matrix` (both resizes composed; a slab reads only the few source
    rows they touch), then the columns with ``F.interpolate`` (which keeps the rows as they are)."""
    k, h, w = scores.shape
    H, W = out_size
    via_h, via_w = via if via is not None else (H, W)
    ry = interpolation_matrix(via_h, H, scores.dtype, scores.device) @ interpolation_matrix(
        h, via_h, scores.dtype, scores.device
    )  # (H, h); the first is the identity when via_h == H
    per_slab = max(1, min(max_elements, SLAB_ELEMENTS) // (k * max(W, via_w)))
    labels = torch.empty((H, W), dtype=torch.long, device=scores.device)
    for top in range(0, H, per_slab):
        bottom = min(top + per_slab, H)
        lo, hi = rows_read(ry[top:bottom])  # the source rows these output rows read
        rows = ry[top:bottom, lo:hi] @ scores[:, lo:hi]  # (K, bottom - top, w)
        rows = _resize(_resize(rows[None], (bottom - top, via_w)), (bottom - top, W))
        labels[top:bottom] = rows[0].max(0).indices
    return labels


def resized_argmax(
    scores: Tensor, out_size: tuple[int, int], max_elements: int = 1 << 24, via: tuple[int, int] | None = None
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
    y0, y1, wy = _bilinear_sources(h, H, scores.device)
    x0, x1, wx = _bilinear_sources(w, W, scores.device)
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


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def predict_logits(
    model: nn.Module,
    image: Tensor,
    out_size: tuple[int, int],
    mode: str = "whole",
    num_classes: int | None = None,
    crop_size: tuple[int, int] = (512, 512),
    stride: tuple[int, int] = (341, 341),
    scales: tuple[float, ...] = (1.0,),
    flip: bool = False,
) -> Tensor:
    """Scores (B, K, *out_size) for a resized, normalised (B, 3, h, w) image (usually B = 1); argmax over dim 1
    is the prediction. ``out_size`` is the original image's (H, W).

    With one view (one scale, no flip) these are the logits resized to ``out_size`` (bilinear, align_corners
    False). With several (each scale s, and its horizontal flip when ``flip``) they are the mean of the views'
    softmax probabilities, each view's logits flipped back and resized to ``out_size`` first: what mmseg 1.x's
    ``SegTTAModel.merge_preds`` (softmax of each ``seg_logits``, then the mean) and 0.x's ``aug_test`` (mean of
    ``inference``, which is softmax of the resized logits) do. Scale s resizes the given tensor to
    ``int(h * s + 0.5) x int(w * s + 0.5)`` (bilinear, align_corners False); mmseg instead resizes the original
    image with keep_ratio to s times the test scale, which differs by the first resize's rounding only.

    ``mode`` is ``"whole"`` or ``"slide"`` (which needs ``num_classes``; ``crop_size`` / ``stride`` apply to the
    rescaled image). Runs on the model's device under ``torch.inference_mode()``.
    """
    if mode not in ("whole", "slide"):
        raise ValueError(f"mode must be 'whole' or 'slide', not {mode!r}")
    if mode == "slide" and num_classes is None:
        raise ValueError("slide inference needs num_classes")
    if not scales:
        raise ValueError("scales must name at least one scale")
    param = next(model.parameters(), None)
    image = image.to(param.device) if param is not None else image
    h, w = image.shape[2:]
    views = [(s, f) for s in scales for f in ((False, True) if flip else (False,))]
    total = None
    with torch.inference_mode():
        for scale, flipped in views:
            x = _resize(image, (int(h * scale + 0.5), int(w * scale + 0.5)))
            x = x.flip(3) if flipped else x
            if mode == "slide":
                logits = slide_inference(model, x, num_classes, crop_size, stride)
            else:
                logits = whole_inference(model, x)
            logits = _resize(logits.flip(3) if flipped else logits, out_size)
            if len(views) == 1:
                return logits
            probs = logits.softmax(dim=1)
            total = probs if total is None else total.add_(probs)
    return total / len(views)
