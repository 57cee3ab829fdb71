"""Scoring a folder of predicted label PNGs against annotation PNGs, no model involved (the ADE20K devkit's job)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from swinseg.core.errors import NoticeWarning
from swinseg.core.progress import progress as progress_bar
from swinseg.data.io import DataError, apply_reduce_zero_label, files_by_stem, read_mask
from swinseg.evaluation.image_stats import ImageStats, StatsCollector
from swinseg.evaluation.provenance import annotation_names
from swinseg.evaluation.provenance import provenance as make_provenance

__all__ = ["PRED_FORMATS", "ConventionWarning", "score_folder", "score_folder_images"]


PRED_FORMATS = {"indices": 0, "ade-release": 1}  # how predictions are written -> what is subtracted from them


def _prediction(path: Path, offset: int, ignore_index: int) -> np.ndarray:
    """A prediction PNG as class indices (``offset`` subtracted; a 1-based file's 0 becomes the ignore index)."""
    pred = read_mask(path).astype(np.int64)
    if offset:
        pred = np.where((pred == ignore_index) | (pred < offset), ignore_index, pred - offset)
    return pred


def _check_prediction(path: Path, pred: np.ndarray, labelled: np.ndarray, num_classes: int, ignore_index: int,
                      offset: int) -> None:  # fmt: skip
    """On labelled pixels a prediction is a class index 0..K-1 or the ignore index ("none"); anything else stops
    with a one-line error that says which option fixes it (1-based labels are the common case)."""
    values = np.unique(pred[labelled])
    bad = values[(values >= num_classes) & (values != ignore_index)]
    if bad.size:
        hint = ("; labels 1..K (the ADE20K release convention) need --pred-format ade-release" if not offset
                else f" after subtracting --pred-offset {offset}")  # fmt: skip
        raise DataError(f"{path}: prediction values {int(values.min())}..{int(values.max())} are not class indices "
                        f"0..{num_classes - 1} (nor the ignore index {ignore_index}){hint}")  # fmt: skip


def score_folder_images(
    pred_dir: str | os.PathLike,
    ann_dir: str | os.PathLike,
    num_classes: int,
    ignore_index: int = 255,
    reduce_zero_label: bool = False,
    class_names: Sequence[str] | None = None,
    pred_suffix: str = ".png",
    ann_suffix: str = ".png",
    progress: bool = True,
    pred_offset: int = 0,
    provenance: bool = True,
) -> ImageStats:
    """Per-image areas of a folder of predicted label PNGs against annotation PNGs, no model involved.

    Files pair up by relative path without their suffix (``a/b_pred.png`` with ``a/b_gt.png`` for suffixes
    ``_pred.png`` / ``_gt.png``); every annotation needs a prediction of the same size and vice versa, else a
    ``DataError`` naming the file. ``reduce_zero_label`` applies to the annotations only (0 -> 255 ignored,
    v -> v - 1, as mmsegmentation's ADE20K loading). Predictions are class indices 0..K-1 (what ``swinseg
    predict`` writes), or ``pred_offset`` more (1 for the ADE20K release convention, whose 0 means "none").
    A prediction value outside them on a labelled pixel, and an annotation value outside 0..K-1 after the
    reduction, is a one-line error naming the file and the option that fixes it; with reduce_zero_label on, annotations that never hold
    0 or that hold the ignore index get a warning (they look 0-based already).
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
    stems = sorted(anns)
    names = annotation_names([anns[s] for s in stems])
    collector = StatsCollector(num_classes, ignore_index)
    zero_seen = ignore_seen = False  # in the annotations as read: what reduce_zero_label expects is 0s, no ignore
    for name, stem in progress_bar(list(zip(names, stems)), desc="scoring", unit="img", disable=not progress):
        ann, pred = read_mask(anns[stem]), _prediction(preds[stem], pred_offset, ignore_index)
        if pred.shape != ann.shape:
            raise DataError(f"{preds[stem]}: prediction size {pred.shape} differs from annotation {ann.shape}")
        zero_seen = zero_seen or bool((ann == 0).any())
        ignore_seen = ignore_seen or bool((ann == ignore_index).any())
        if reduce_zero_label:
            ann = apply_reduce_zero_label(ann, ignore_index)
        _check_prediction(preds[stem], pred, ann != ignore_index, num_classes, ignore_index, pred_offset)
        try:
            collector.update(name, pred, ann)
        except ValueError as e:
            hint = "" if reduce_zero_label else " (1-based annotations, 0 = unlabelled, need --reduce-zero-label)"
            raise DataError(f"{anns[stem]}: {e}{hint}") from e
    if reduce_zero_label and (ignore_seen or not zero_seen):
        why = f"hold the ignore index {ignore_index}" if ignore_seen else "never hold 0 ('other')"
        warnings.warn(f"{ann_dir}: the annotations {why}, as 0-based ones do, yet reduce_zero_label is on and shifts "
                      "every label down by one: if they are 0-based already, pass --no-reduce-zero-label",
                      ConventionWarning, stacklevel=2)  # fmt: skip
    record = None
    if provenance:
        record = make_provenance([anns[s] for s in stems], predictions=str(pred_dir), pred_offset=pred_offset,
                                 reduce_zero_label=reduce_zero_label)  # fmt: skip
    names_k = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    return collector.stats(names_k, record)


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
    pred_offset: int = 0,
) -> dict:
    """mmseg's metrics of a folder of prediction PNGs (:func:`score_folder_images`, summed; the ADE20K
    devkit's job) plus ``num_images``."""
    stats = score_folder_images(pred_dir, ann_dir, num_classes, ignore_index, reduce_zero_label, class_names,
                                pred_suffix, ann_suffix, progress, pred_offset, provenance=False)  # fmt: skip
    return stats.metrics(devkit)


class ConventionWarning(NoticeWarning):
    """A label convention that looks contradicted by the data (printed as one line by the CLI)."""
