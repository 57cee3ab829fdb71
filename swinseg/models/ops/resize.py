"""Bilinear resizing with mmsegmentation's ADE20K settings (align_corners=False), and its interpolation weights.

Every resize in swinseg goes through here: the heads' upsampling and the final resize (:func:`resize`), the
slab-wise losses and argmax that apply the same resize as matrices (:func:`interpolation_matrix`,
:func:`rows_read`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["interpolation_matrix", "resize", "rows_read"]


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize, align_corners=False (mmsegmentation's ``resize`` with the ADE20K settings); a map that
    already has the size is returned as it is (the resize would be the identity), except while tracing for
    ONNX export, whose graph must resize at other sizes."""
    if tuple(x.shape[2:]) == tuple(size) and not torch.jit.is_tracing():
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def interpolation_matrix(
    src: int, dst: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """(dst, src): row ``j`` holds the weights with which :func:`resize` (bilinear, align_corners=False) makes
    output ``j`` from the ``src`` inputs along one axis; two of them are non-zero. Taken from ``F.interpolate``
    itself (resizing an identity matrix along one axis), so the two cannot disagree."""
    eye = torch.eye(src, dtype=dtype, device=device)[None, None]  # (1, 1, src, src)
    return F.interpolate(eye, size=(src, dst), mode="bilinear", align_corners=False)[0, 0].T


def rows_read(weights: torch.Tensor) -> tuple[int, int]:
    """``(lo, hi)``: the source positions ``[lo, hi)`` that some rows of an :func:`interpolation_matrix` read."""
    used = weights.any(dim=0).nonzero()
    return int(used[0]), int(used[-1]) + 1
