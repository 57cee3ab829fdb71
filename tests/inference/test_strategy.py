"""predict_batch: whichever way a batch's labels are computed, they are the argmax of predict_logits."""

from __future__ import annotations

import pytest
import torch

from swinseg.inference import InferenceConfig, predict_batch, predict_logits
from tests.inference.conftest import K


def _expected(model, images, sizes, inference):
    return [predict_logits(model, images[i : i + 1], size, inference, K)[0] for i, size in enumerate(sizes)]


def _assert_labels(labels, scores):
    """Equal to the argmax except where the top two scores tie within float rounding."""
    top2 = scores.topk(2, dim=0).values
    differ = torch.from_numpy(labels).long() != scores.argmax(0)
    assert not (differ & (top2[0] - top2[1] > 1e-4)).any()


@pytest.mark.parametrize("inference", [
    InferenceConfig("whole", (32, 32)),                     # labels from the head's logits, both resizes composed
    InferenceConfig("slide", (32, 32), (24, 24)),           # resized: slide_inference, then the labels
    InferenceConfig("whole", (32, 32), scales=(0.75, 1.0), flip=True),  # TTA, one image at a time
])  # fmt: skip
def test_labels_are_the_argmax_of_predict_logits(toy_model, inference):
    torch.manual_seed(0)
    images, sizes = torch.randn(2, 3, 48, 64), [(60, 80), (30, 40)]
    predictions = predict_batch(toy_model, images, sizes, inference, K, confidence=True)
    for p, scores, size in zip(predictions, _expected(toy_model, images, sizes, inference), sizes):
        assert p.labels.shape == size and p.confidence.shape == size and p.probs is None
        _assert_labels(p.labels, scores)


def test_slide_at_the_input_size_takes_the_labels_straight_from_the_windows(toy_model, monkeypatch):
    import swinseg.inference.strategy as strategy

    monkeypatch.setattr(strategy, "slide_inference", None)  # must not be called
    inference = InferenceConfig("slide", (32, 32), (24, 24))
    images = torch.randn(1, 3, 48, 64)
    (p,) = predict_batch(toy_model, images, [(48, 64)], inference, K)
    _assert_labels(p.labels, _expected(toy_model, images, [(48, 64)], inference)[0])
