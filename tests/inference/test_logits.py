"""predict_logits: one view is the resized logits, flips and scales average softmax probabilities, sliding windows
are mmsegmentation's loop; bad settings are one-line errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from swinseg.inference import (
    predict_logits,
    slide_inference,
)
from swinseg.models import InferenceConfig
from tests.conftest import max_abs_diff
from tests.inference.conftest import K, PixelModel, mmseg_slide


def test_single_view_returns_resized_logits(toy_model):
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        logits = toy_model(x)
    assert max_abs_diff(predict_logits(toy_model, x, (64, 80)), logits) < 1e-5
    resized = F.interpolate(logits, size=(77, 91), mode="bilinear", align_corners=False)
    assert max_abs_diff(predict_logits(toy_model, x, (77, 91)), resized) < 1e-5
    slid = predict_logits(toy_model, x, (77, 91), InferenceConfig("slide", (48, 48), (32, 32)), num_classes=K)
    expected = F.interpolate(mmseg_slide(toy_model, x, K, (48, 48), (32, 32)), size=(77, 91), mode="bilinear")
    assert max_abs_diff(slid, expected.detach()) < 1e-5


def test_flip_of_a_flip_equivariant_model_changes_nothing():
    model = PixelModel()
    x = torch.randn(1, 3, 40, 56)
    plain = predict_logits(model, x, (40, 56))
    flipped = predict_logits(model, x, (40, 56), InferenceConfig(flip=True))  # mean of two identical probability maps
    assert max_abs_diff(flipped, plain.softmax(1)) < 1e-6
    assert torch.equal(flipped.argmax(1), plain.argmax(1))


def test_flip_averages_probabilities_of_both_views(toy_model):
    x = torch.randn(1, 3, 64, 80)
    flipped = predict_logits(toy_model, x, (64, 80), InferenceConfig(flip=True))
    with torch.no_grad():
        p = toy_model(x).softmax(1)
        p_flip = toy_model(x.flip(3)).flip(3).softmax(1)
    assert max_abs_diff(flipped, (p + p_flip) / 2) < 1e-5
    assert max_abs_diff(flipped, p) > 1e-3  # not flip-symmetric: flipping changes the probabilities


def test_multi_scale_flip_averages_softmax_of_resized_views(toy_model):
    x = torch.randn(1, 3, 64, 80)
    out = predict_logits(toy_model, x, (77, 91), InferenceConfig(scales=(0.75, 1.0, 1.5), flip=True))
    assert out.shape == (1, K, 77, 91)
    assert (out >= 0).all() and max_abs_diff(out.sum(1), torch.ones(1, 77, 91)) < 1e-5
    views = []
    with torch.no_grad():
        for size in [(48, 60), (64, 80), (96, 120)]:  # int(s * h + 0.5)
            xs = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            for logits in (toy_model(xs), toy_model(xs.flip(3)).flip(3)):
                views.append(F.interpolate(logits, size=(77, 91), mode="bilinear").softmax(1))
    assert max_abs_diff(out, torch.stack(views).mean(0)) < 1e-5
    slid = predict_logits(toy_model, x, (77, 91), InferenceConfig("slide", (48, 48), (32, 32), scales=(0.75, 1.25)),
                          num_classes=K)
    assert slid.shape == (1, K, 77, 91) and max_abs_diff(slid.sum(1), torch.ones(1, 77, 91)) < 1e-5


def test_bad_arguments_raise(toy_model):
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="inference.mode: expected one of whole, slide, auto, got 'tiles'"):
        InferenceConfig(mode="tiles")
    with pytest.raises(ValueError, match="inference.stride: .* larger than the crop"):
        InferenceConfig("slide", (32, 32), (40, 40))
    with pytest.raises(ValueError, match="num_classes"):
        predict_logits(toy_model, x, (32, 32), InferenceConfig("slide", (16, 16)))
    with pytest.raises(ValueError, match="crop_size is not set"):
        predict_logits(toy_model, x, (32, 32), InferenceConfig("slide"), num_classes=3)
    with pytest.raises(ValueError, match="num_classes=3"):
        slide_inference(toy_model, x, 3, crop_size=(32, 32), stride=(16, 16))
