"""Scores that need no model, to say how far above trivial a model is on a dataset.

- :func:`commonest_class_metrics`: predict the training split's commonest class everywhere.
- :func:`colour_lookup_metrics`: a per-colour majority vote. Each pixel's RGB, quantised to ``bits`` per channel,
  votes for the label it carries in the training split; a validation pixel gets the label its colour voted for
  most (colours never seen: the commonest class). It is what a model scores that looks at one pixel's colour
  and nothing else: no texture, shape or context. A dataset where it scores well is a colour code, not a
  segmentation problem.

Both read the images and masks as they are on disk (the validation masks after ``reduce_zero_label``) and score
with :func:`~swinseg.evaluation.metrics.compute_metrics`, so their mIoU is comparable to ``swinseg eval``'s at
the original resolution.
"""

from __future__ import annotations

import numpy as np

from swinseg.data.datasets import SegmentationDataset
from swinseg.data.io import read_image
from swinseg.evaluation.metrics import ConfusionMatrix, compute_metrics

__all__ = ["colour_lookup_metrics", "commonest_class_metrics"]


def _colour_codes(image: np.ndarray, bits: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (H * W,) integer colour codes with ``bits`` bits per channel."""
    q = (image >> (8 - bits)).astype(np.int64)
    return ((q[..., 0] << (2 * bits)) | (q[..., 1] << bits) | q[..., 2]).ravel()


def _label_counts(dataset: SegmentationDataset) -> np.ndarray:
    """(K,) labelled pixels of each class over the dataset's masks."""
    k = dataset.num_classes
    counts = np.zeros(k, np.int64)
    for i in range(len(dataset)):
        mask = dataset.load_mask(i)
        counts += np.bincount(mask[mask < k].ravel(), minlength=k)[:k]
    return counts


def _score(val_set: SegmentationDataset, predict: object) -> dict:
    """Metrics of ``predict(index) -> (H, W) labels`` over ``val_set``."""
    confusion = ConfusionMatrix(val_set.num_classes, val_set.ignore_index)
    for i in range(len(val_set)):
        confusion.update(predict(i), val_set.load_mask(i))
    return compute_metrics(confusion, val_set.classes.names)


def commonest_class_metrics(train_set: SegmentationDataset, val_set: SegmentationDataset) -> dict:
    """The metrics of predicting ``train_set``'s commonest class on every pixel of ``val_set``."""
    common = int(np.argmax(_label_counts(train_set)))
    return _score(val_set, lambda i: np.full_like(val_set.load_mask(i), common))


def colour_lookup_metrics(train_set: SegmentationDataset, val_set: SegmentationDataset, bits: int = 4) -> dict:
    """The metrics on ``val_set`` of the per-colour majority vote fitted on ``train_set`` (module docstring)."""
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be 1..8, got {bits}")
    k = train_set.num_classes
    votes = np.zeros((1 << (3 * bits), k), np.int64)
    for i in range(len(train_set)):
        codes = _colour_codes(read_image(train_set.pairs[i][0]), bits)
        labels = train_set.load_mask(i).ravel()
        keep = labels < k  # the ignore index does not vote
        np.add.at(votes, (codes[keep], labels[keep]), 1)
    lookup = votes.argmax(1)
    lookup[votes.sum(1) == 0] = votes.sum(0).argmax()
    return _score(val_set, lambda i: lookup[_colour_codes(read_image(val_set.pairs[i][0]), bits)].reshape(
        val_set.load_mask(i).shape))
