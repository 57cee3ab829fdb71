"""Model-free baselines: the commonest class everywhere and the per-colour majority vote."""

from __future__ import annotations

import numpy as np
import pytest

from swinseg.data.classes import load_classes_file
from swinseg.data.datasets import folder_dataset
from swinseg.evaluation.baselines import colour_lookup_metrics, commonest_class_metrics


def _splits(root):
    classes = load_classes_file(root / "classes.json")
    return [folder_dataset(root / split / "img", root / split / "ann", classes, progress=False) for split in ("train", "val")]


def test_commonest_class_is_the_training_splits_and_scored_by_hand(blocks_dataset):
    train, val = _splits(blocks_dataset)
    counts = sum(np.bincount(m[m < 4], minlength=4) for m in (train.load_mask(i) for i in range(len(train))))
    common = int(np.argmax(counts))
    masks = [val.load_mask(i) for i in range(len(val))]
    labelled = sum(int((m < 4).sum()) for m in masks)
    hits = sum(int((m == common).sum()) for m in masks)
    results = commonest_class_metrics(train, val)
    assert results["aAcc"] == pytest.approx(100 * hits / labelled)
    present = sum(1 for c in range(4) if any((m == c).any() for m in masks))
    assert results["mIoU"] == pytest.approx(100 * hits / labelled / present)  # IoU = hits / labelled, others 0
    assert results["per_class"][common]["area_pred"] == labelled


def test_colour_lookup_reads_a_colour_coded_dataset(blocks_dataset):
    """The blocks are coloured by class (red, green, blue on dark noise): the vote gets them almost all right."""
    train, val = _splits(blocks_dataset)
    results = colour_lookup_metrics(train, val)
    assert results["aAcc"] > 95 and results["mIoU"] > 90, results
    coarse = colour_lookup_metrics(train, val, bits=1)  # one bit a channel still separates the three colours
    assert coarse["aAcc"] > 90
    with pytest.raises(ValueError, match="bits"):
        colour_lookup_metrics(train, val, bits=0)
