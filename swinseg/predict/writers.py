"""What ``swinseg predict`` writes for each image, and writing it (atomically, in a writer thread).

====================  ===================================================================================
``s.png``             palette-indexed labels (mode P, the classes' palette) at the original image size
``s_overlay.jpg``     the colour map blended over the image (``overlay``)
``s_confidence.png``  the top class's softmax probability as 8-bit grey, 255 = certain (``confidence``)
``s_probs.npz``       ``probs``: (K, H, W) float16 softmax probabilities, compressed (``probs``)
====================  ===================================================================================
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from torch import Tensor

from swinseg.core.atomic_write import atomic_write
from swinseg.data.classes import ClassInfo
from swinseg.data.io import write_label_png
from swinseg.visualize import confidence_image, overlay

__all__ = ["LABEL_FORMATS", "OUTPUTS", "output_paths", "write_outputs"]


# how label PNGs are written: class indices in a palette PNG, or the ADE20K release convention (labels + 1 in a
# grey PNG, 0 meaning "other": what the ADE20K devkit and benchmark server read, mmseg's format_only output)
LABEL_FORMATS = ("indices", "ade-release")

# output kind -> what is appended to the stem
OUTPUTS = {"labels": ".png", "overlay": "_overlay.jpg", "confidence": "_confidence.png", "probs": "_probs.npz"}


def output_paths(out_dir: str | os.PathLike, stem: Path, kinds: Sequence[str]) -> dict[str, Path]:
    """``{"labels": out_dir/stem.png, "overlay": out_dir/stem_overlay.jpg, ...}`` for the given kinds."""
    return {kind: Path(out_dir) / f"{stem.as_posix()}{OUTPUTS[kind]}" for kind in kinds}


def write_outputs(
    paths: dict[str, Path],
    labels: np.ndarray,
    original: Tensor | None,
    conf: np.ndarray | None,
    probs: np.ndarray | None,
    classes: ClassInfo,
    overwrite: bool,
    label_format: str = "indices",
) -> None:
    """Write the outputs named in ``paths`` (each atomically); runs in a writer thread."""
    if "labels" in paths:
        if label_format == "ade-release":
            write_label_png(paths["labels"], labels.astype(np.int64) + 1, overwrite=overwrite)
        else:
            write_label_png(paths["labels"], labels, classes.flat_palette(), overwrite=overwrite)
    if "overlay" in paths:
        blended = Image.fromarray(overlay(original.numpy(), labels, classes.palette))
        atomic_write(paths["overlay"], lambda tmp: blended.save(tmp, format="JPEG", quality=90), overwrite=overwrite)
    if "confidence" in paths:
        grey = Image.fromarray(confidence_image(conf))
        atomic_write(paths["confidence"], lambda tmp: grey.save(tmp, format="PNG"), overwrite=overwrite)
    if "probs" in paths:

        def save_npz(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: given a name, numpy would append ".npz" to it
                np.savez_compressed(f, probs=probs)

        atomic_write(paths["probs"], save_npz, overwrite=overwrite)
