"""Scoring a folder of predicted label PNGs against annotation PNGs, no model involved (the ADE20K devkit's job)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from swinseg.data.io import DataError, apply_reduce_zero_label, files_by_stem, read_mask
from swinseg.evaluation.metrics import ConfusionMatrix, compute_metrics

__all__ = ["score_folder"]


def score_folder(
    pred_dir: str | os.PathLike,
    ann_dir: str | os.PathLike,
    num_classes: int,
    ignore_index: int = 255,
    reduce_zero_label: bool = False,
    class_names: Sequence[str] | None = None,
    pred_suffix: str = ".png",
    ann_suffix: str = ".png",
    progress: bool = True,
    devkit: bool = False,
) -> dict:
    """Score a folder of predicted label PNGs against annotation PNGs, no model involved (the devkit's job).

    Files pair up by relative path without their suffix (``a/b_pred.png`` with ``a/b_gt.png`` for suffixes
    ``_pred.png`` / ``_gt.png``); every annotation needs a prediction of the same size and vice versa, else a
    ``DataError`` naming the file. ``reduce_zero_label`` applies to the annotations only (0 -> 255 ignored,
    v -> v - 1, as mmsegmentation's ADE20K loading): predictions must already be in 0..K-1 label space, i.e.
    ADE20K devkit-style predictions (1..150) minus one. Prediction values outside [0, K) count as wrong.

    Returns ``compute_metrics``'s dict plus ``num_images``.
    """
    pred_dir, ann_dir = Path(pred_dir), Path(ann_dir)
    anns = files_by_stem(ann_dir, ann_suffix, "annotation")
    preds = files_by_stem(pred_dir, pred_suffix, "prediction")
    if not anns:
        raise DataError(f"{ann_dir}: no annotation files ending in {ann_suffix!r}")
    missing, extra = sorted(set(anns) - set(preds)), sorted(set(preds) - set(anns))
    if missing:
        raise DataError(f"{pred_dir / (missing[0] + pred_suffix)}: prediction missing for annotation "
                        f"{anns[missing[0]]} ({len(missing)} missing in all)")  # fmt: skip
    if extra:
        raise DataError(f"{preds[extra[0]]}: prediction without an annotation in {ann_dir} ({len(extra)} in all)")
    cm = ConfusionMatrix(num_classes, ignore_index)
    for stem in tqdm(sorted(anns), desc="scoring", unit="img", disable=not progress):
        ann, pred = read_mask(anns[stem]), read_mask(preds[stem])
        if pred.shape != ann.shape:
            raise DataError(f"{preds[stem]}: prediction size {pred.shape} differs from annotation {ann.shape}")
        if reduce_zero_label:
            ann = apply_reduce_zero_label(ann, ignore_index)
        try:
            cm.update(pred, ann)
        except ValueError as e:
            raise DataError(f"{anns[stem]}: {e}") from e
    return {**compute_metrics(cm, class_names=class_names, devkit=devkit), "num_images": len(anns)}
