"""Labels at the original size: resized_argmax (boundary pixels only, and through an intermediate size) and
labels_from_scores (chunked confidence and probabilities) equal the direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from swinseg.inference import (
    labels_from_scores,
    resized_argmax,
)
from swinseg.inference import labels as labels_module


@pytest.mark.parametrize("out_size", [(48, 64), (60, 80), (37, 101), (150, 200)])
@pytest.mark.parametrize("smooth", [True, False])  # regions with boundaries, or per-pixel noise (the fallback)
def test_resized_argmax_equals_the_argmax_of_the_resized_scores(out_size, smooth):
    torch.manual_seed(0)
    scores = torch.randn(1, 7, 6, 8) * 5 if smooth else torch.randn(1, 7, 48, 64)
    scores = F.interpolate(scores, size=(48, 64), mode="bilinear", align_corners=False)[0]
    resized = F.interpolate(scores[None], size=out_size, mode="bilinear", align_corners=False)[0]
    labels = resized_argmax(scores, out_size, max_elements=7 * 4 * 50)  # boundary pixels 50 at a time
    top2 = resized.topk(2, dim=0).values
    differ = labels != resized.argmax(0)
    assert labels.shape == out_size
    assert not (differ & (top2[0] - top2[1] > 1e-5)).any()  # only float near-ties may differ
    assert differ.float().mean() < 1e-3


@pytest.mark.parametrize("via, out_size", [((48, 64), (60, 80)), ((48, 64), (48, 64)), ((45, 70), (37, 101))])
def test_resized_argmax_via_an_intermediate_size_equals_both_resizes(via, out_size):
    torch.manual_seed(0)
    scores = torch.randn(7, 12, 16)  # a head's logits at stride 4; `via` the network input, out_size the image
    twice = F.interpolate(F.interpolate(scores[None], size=via, mode="bilinear"), size=out_size, mode="bilinear")[0]
    labels = resized_argmax(scores, out_size, via=via, max_elements=7 * 3 * 101)  # a few rows at a time
    top2 = twice.topk(2, dim=0).values
    differ = labels != twice.argmax(0)
    assert labels.shape == out_size and not (differ & (top2[0] - top2[1] > 1e-5)).any()
    assert differ.float().mean() < 1e-3


def _regions(classes: int, size: tuple[int, int]) -> torch.Tensor:
    """(classes, *size) scores of a trained model's kind: a few large regions, boundaries between them."""
    return F.interpolate(torch.randn(1, classes, 3, 3) * 5, size=size, mode="bilinear", align_corners=False)[0]


@pytest.mark.parametrize(
    "source, via, out_size",
    [((24, 32), (96, 128), (70, 93)),  # a head at stride 4, the network input, the image: 3x3 windows
     ((96, 128), None, (70, 93)),  # full-resolution logits shrunk: 2x2 windows, gathered class-major
     ((24, 32), None, (96, 128))],  # enlarged: 2x2 windows, gathered pixel-major
)  # fmt: skip
def test_resized_argmax_interpolates_only_the_boundary_windows(source, via, out_size, monkeypatch):
    torch.manual_seed(1)
    scores = _regions(9, source)
    resized = F.interpolate(scores[None], size=via, mode="bilinear") if via else scores[None]
    resized = F.interpolate(resized, size=out_size, mode="bilinear")[0]

    def no_slabs(*args, **kwargs):
        raise AssertionError("resized every pixel: the boundary windows were not few")

    monkeypatch.setattr(labels_module, "_resized_argmax_by_row_slabs", no_slabs)
    labels = resized_argmax(scores, out_size, via=via, max_elements=9 * 64)  # 64 windows at a time
    top2 = resized.topk(2, dim=0).values
    differ = labels != resized.argmax(0)
    assert labels.shape == out_size and not (differ & (top2[0] - top2[1] > 1e-5)).any()
    assert differ.float().mean() < 1e-3
    assert len(labels.unique()) > 2  # several regions, so boundaries were interpolated


def test_source_windows_hold_every_weight_of_a_composed_resize():
    ry = labels_module._composed_interpolation(24, 96, 70, torch.zeros(1))  # (70, 24): up 4x, down 1.37x
    first, weights = labels_module._source_windows(ry)
    size = weights.shape[1]
    assert size == 3  # two bilinear taps of two bilinear taps: up to three source rows
    for row in range(70):
        inside = torch.zeros(24, dtype=torch.bool)
        inside[first[row] : first[row] + size] = True
        assert (ry[row, ~inside] == 0).all()
        assert torch.equal(weights[row], ry[row, inside])
    assert torch.allclose(weights.sum(1), torch.ones(70))


def test_chunked_labels_confidence_and_probs_equal_the_direct_computation():
    logits = torch.randn(7, 9, 11)
    full = torch.nn.functional.interpolate(logits[None], size=(20, 23), mode="bilinear", align_corners=False)[0]
    for budget in (1, 3 * 20 * 23, 10**9):  # one class, three classes, all classes at a time
        labels, conf, probs = labels_from_scores(logits, (20, 23), confidence=True, probs=True, max_elements=budget)
        assert labels.dtype == np.uint8 and np.array_equal(labels, full.argmax(0).numpy())
        np.testing.assert_allclose(conf, full.softmax(0).max(0).values.numpy(), rtol=1e-5)
        assert probs.dtype == np.float16 and probs.shape == (7, 20, 23)
        np.testing.assert_allclose(probs.astype(np.float32), full.softmax(0).numpy(), atol=1e-3)
    tie = torch.zeros(3, 4, 4)  # equal scores: the first class, as argmax
    assert (labels_from_scores(tie, (4, 4), max_elements=16)[0] == 0).all()


