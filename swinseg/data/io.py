"""Reading images and label masks, writing label PNGs atomically.

Images come back as RGB ``uint8`` (H, W, 3) whatever the file's mode (grayscale, RGBA, palette, 16-bit), with the
EXIF orientation applied, as OpenCV's ``IMREAD_COLOR`` (mmsegmentation's loader) does. Masks come back as the
label values stored in the file (palette PNGs give their indices, not their colours), EXIF orientation applied too
so a mask saved by the same camera pipeline stays aligned with its image.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from swinseg.core.atomic_write import atomic_write

__all__ = ["DataError", "atomic_write", "files_by_stem", "read_image", "read_mask", "apply_reduce_zero_label", "image_size", "write_label_png"]


class DataError(ValueError):
    """A dataset file or layout problem; the message names the file."""


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """``Image.open`` whose failures become one ``DataError`` naming the file."""
    try:
        with Image.open(path) as img:
            yield img
    except FileNotFoundError as e:
        raise DataError(f"{path}: file not found") from e
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: unreadable or corrupt image ({e})") from e


def _open(path: Path) -> Image.Image:
    with _opened(path) as img:
        img.load()  # decode now so truncated / corrupt files fail here, with their name
        return ImageOps.exif_transpose(img)  # a transposed copy, or a plain copy


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) as :func:`read_image` returns it (EXIF rotations applied), reading the header only."""
    with _opened(Path(path)) as img:
        size, orientation = img.size, img.getexif().get(0x0112, 1)
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size  # 90-degree turns swap the sides


def read_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    img = _open(Path(path))
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit / 32-bit grayscale: rescale to 8 bits
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8))
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, LA, P, PA, RGBA (alpha dropped), CMYK, YCbCr, 1
    return np.asarray(img, dtype=np.uint8).copy()


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """(H, W) label values: uint8 for 8-bit / palette PNGs, int32 for 16-bit ones."""
    path = Path(path)
    img = _open(path)
    if img.mode in ("L", "P"):
        return np.asarray(img, dtype=np.uint8).copy()
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(img, dtype=np.int32).copy()
    raise DataError(f"{path}: a label mask must be single-channel (mode L, P or 16-bit), not {img.mode}")


def apply_reduce_zero_label(mask: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """ADE20K's label convention -> training labels, as mmsegmentation's ``LoadAnnotations``: 0 (other) becomes
    ``ignore_index``, v becomes v - 1, and 255 stays ignored."""
    out = mask.astype(np.int32) - 1
    out[(mask == 0) | (mask == 255)] = ignore_index
    return out


def files_by_stem(root: str | os.PathLike, suffix: str, what: str = "") -> dict[str, Path]:
    """Files under ``root`` (recursively) ending in ``suffix``, keyed by relative path without the suffix."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: {what + ' ' if what else ''}directory not found")
    return {
        p.relative_to(root).as_posix()[: -len(suffix)]: p
        for p in sorted(root.rglob(f"*{suffix}"))
        if p.is_file() and not p.name.startswith(".")
    }


def write_label_png(
    path: str | os.PathLike, labels: np.ndarray, palette: list[int] | None = None, overwrite: bool = False
) -> Path:
    """Write (H, W) labels 0..255 as a PNG: mode P with ``palette`` (768 ints, see ``ClassInfo.flat_palette``)
    so it opens in colour but reads back as labels, else mode L."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.min(initial=0) < 0 or labels.max(initial=0) > 255:
        raise DataError(f"{path}: labels must be (H, W) with values 0..255, got shape {labels.shape}")
    img = Image.fromarray(labels.astype(np.uint8))  # mode L
    if palette is not None:
        img.putpalette(palette)  # L -> P, indices unchanged
    return atomic_write(Path(path), lambda tmp: img.save(tmp, format="PNG"), overwrite=overwrite)
