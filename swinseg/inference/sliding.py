"""Sliding-window inference with mmsegmentation's rules (``EncoderDecoder.slide_inference``), and labels
straight from the windows without the whole image's logits (:func:`slide_labels`).

The model maps normalised images (B, 3, h, w) to logits (B, K, h, w) at any size, in eval mode.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from swinseg.inference.whole import run_model

__all__ = ["slide_inference", "slide_labels", "window_starts"]


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
    crop_size: tuple[int, int],
    stride: tuple[int, int],
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
        crop_logits = run_model(model, images[:, :, y1:y2, x1:x2])
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
    crop_size: tuple[int, int],
    stride: tuple[int, int],
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


