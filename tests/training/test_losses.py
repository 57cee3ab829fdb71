"""Losses: the slab-wise upsampled cross-entropy against resize-then-cross-entropy, and build_loss's terms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import swinseg.training.losses as losses
from swinseg.models.ops.resize import interpolation_matrix
from swinseg.models.segmentor import SegmentorConfig
from swinseg.models.swin import swin_config
from swinseg.training.config import TrainConfig
from swinseg.training.losses import build_loss, upsampled_cross_entropy


def up(logits: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)


def labels_for(n: int, k: int, size, ignore: int = 255, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, k, (n, *size), generator=g)
    labels[torch.rand(n, *size, generator=g) < 0.1] = ignore
    return labels


@pytest.mark.parametrize("src, dst", [(16, 64), (4, 64), (13, 35), (11, 29), (7, 7), (9, 4)])
def test_interpolation_matrix_is_the_resize_along_one_axis(src, dst):
    x = torch.randn(2, 3, 5, src, dtype=torch.float64)
    assert torch.allclose(x @ interpolation_matrix(src, dst, torch.float64).T, up(x, (5, dst)), atol=1e-14)
    assert (interpolation_matrix(src, dst) != 0).sum(dim=1).max() <= 2


@pytest.mark.parametrize("slab_elements", [1, 5000, 1 << 21])  # one output row per slab .. one slab
@pytest.mark.parametrize(
    "logit_size, label_size",
    [((16, 24), (64, 96)), ((4, 6), (64, 96)), ((13, 11), (35, 29)), ((8, 8), (8, 8)), ((10, 12), (7, 9))],
)
def test_upsampled_cross_entropy_equals_resize_then_cross_entropy(monkeypatch, slab_elements, logit_size, label_size):
    monkeypatch.setattr(losses, "SLAB_ELEMENTS", slab_elements)
    torch.manual_seed(0)
    logits = torch.randn(2, 7, *logit_size, dtype=torch.float64, requires_grad=True)
    labels = labels_for(2, 7, label_size)
    weight = torch.rand(7, dtype=torch.float64) + 0.5
    for w in (None, weight):
        expected = F.cross_entropy(up(logits, label_size), labels, weight=w, ignore_index=255, reduction="sum")
        got = upsampled_cross_entropy(logits, labels, weight=w, ignore_index=255)
        assert abs(got.item() - expected.item()) < 1e-10 * expected.item()
        (g_expected,) = torch.autograd.grad(3.0 * expected, logits)
        (g_got,) = torch.autograd.grad(3.0 * got, logits)  # the upstream gradient scales the saved one
        assert (g_got - g_expected).abs().max() < 1e-12


def test_upsampled_cross_entropy_keeps_nothing_as_large_as_the_upsampled_map():
    logits = torch.randn(2, 150, 16, 16, requires_grad=True)
    labels = labels_for(2, 150, (64, 64))
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.shape) or t, lambda t: t):
        reference = F.cross_entropy(up(logits, (64, 64)), labels, ignore_index=255, reduction="sum")
    assert (2, 150, 64, 64) in saved  # resize-then-cross-entropy keeps the full-size log-probabilities
    loss = upsampled_cross_entropy(logits, labels)
    assert [t.shape for t in loss.grad_fn.saved_tensors] == [logits.shape]  # ours: one logits-sized gradient
    assert abs(loss.item() - reference.item()) < 1e-5 * reference.item()


def test_without_gradients_only_the_value_is_computed():
    logits = torch.randn(1, 5, 8, 8)
    labels = labels_for(1, 5, (32, 32))
    with torch.no_grad():
        got = upsampled_cross_entropy(logits, labels)
    expected = F.cross_entropy(up(logits, (32, 32)), labels, ignore_index=255, reduction="sum")
    assert not got.requires_grad and abs(got.item() - expected.item()) < 1e-6 * expected.item()  # fp32 sums


def train_config(**kw) -> TrainConfig:
    return TrainConfig(model=SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=5), **kw)


@pytest.mark.parametrize("terms", [{"ce": 1.0}, {"ce": 0.7, "dice": 0.3}, {"dice": 1.0}])
def test_build_loss_resizes_the_logits_to_the_labels(terms):
    weights = [0.5, 1.0, 1.5, 2.0, 1.0]
    cfg = train_config(losses=terms, class_weights=weights)
    logits = torch.randn(2, 5, 16, 24, dtype=torch.float64, requires_grad=True)
    labels = labels_for(2, 5, (64, 96))
    full = up(logits.float(), (64, 96))
    expected = full.new_zeros(())
    if "ce" in terms:  # mmseg's avg_non_ignore=False: the mean over all pixels, ignored ones as zeros
        ce = F.cross_entropy(full, labels, weight=torch.tensor(weights), ignore_index=255, reduction="none")
        expected = expected + terms["ce"] * ce.mean()
    if "dice" in terms:
        import segmentation_models_pytorch as smp

        expected = expected + terms["dice"] * smp.losses.DiceLoss("multiclass", ignore_index=255)(full, labels)
    got = build_loss(cfg, 255)(logits, labels)
    assert abs(got.item() - expected.item()) < 1e-5
    (g_got,) = torch.autograd.grad(got, logits)
    (g_expected,) = torch.autograd.grad(expected, logits)
    assert (g_got - g_expected).abs().max() < 1e-7


def test_build_loss_at_the_label_size_is_plain_cross_entropy():
    logits = torch.randn(2, 5, 20, 20)
    labels = labels_for(2, 5, (20, 20))
    expected = F.cross_entropy(logits, labels, ignore_index=255, reduction="none").mean()
    assert abs(build_loss(train_config(), 255)(logits, labels).item() - expected.item()) < 1e-6
