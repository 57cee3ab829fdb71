"""Whole / sliding-window inference and test-time augmentation, against mmsegmentation's loop written out and
against models whose answer is known (a per-pixel 1x1 convolution is translation- and flip-equivariant)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from swinseg.inference import (
    predict_logits,
    resized_argmax,
    slide_inference,
    slide_labels,
    whole_inference,
    window_starts,
)
from swinseg.models import InferenceConfig, SegmentorConfig, build_model, swin_config
from tests.conftest import max_abs_diff, randomize_

K = 5


@pytest.fixture(scope="module")
def toy_model() -> nn.Module:
    config = SegmentorConfig(encoder=swin_config("swin_toy"), decoder="upernet", num_classes=K,
                             decoder_args={"channels": 32}, aux_head=False)
    return randomize_(build_model(config), seed=3).eval()


class PixelModel(nn.Module):
    """Per-pixel logits (a 1x1 convolution): a window's logits are the whole image's logits cut to it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, K, 1)
        randomize_(self, seed=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class WindowRecorder(PixelModel):
    """Reads where each crop lies from coordinate channels (channel 0 = row, channel 1 = column)."""

    def __init__(self) -> None:
        super().__init__()
        self.windows: list[tuple[int, int, int, int]] = []  # (y1, x1, h, w) of each crop seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.windows.append((int(x[0, 0, 0, 0]), int(x[0, 1, 0, 0]), x.shape[2], x.shape[3]))
        return super().forward(x)


def mmseg_slide(model, inputs, num_classes, crop, stride):
    """``EncoderDecoder.slide_inference`` of mmsegmentation 1.x, as written there (F.pad, count matrix)."""
    (h_stride, w_stride), (h_crop, w_crop) = stride, crop
    batch_size, _, h_img, w_img = inputs.size()
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    preds = inputs.new_zeros((batch_size, num_classes, h_img, w_img))
    count_mat = inputs.new_zeros((batch_size, 1, h_img, w_img))
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1, x1 = h_idx * h_stride, w_idx * w_stride
            y2, x2 = min(y1 + h_crop, h_img), min(x1 + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            crop_seg_logit = model(inputs[:, :, y1:y2, x1:x2])
            preds += F.pad(crop_seg_logit, (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)))
            count_mat[:, :, y1:y2, x1:x2] += 1
    assert (count_mat == 0).sum() == 0
    return preds / count_mat


def test_window_starts_snap_to_the_border():
    assert window_starts(120, 64, 40) == [0, 40, 56]  # 3 windows, the last one ends at 120
    assert window_starts(130, 64, 40) == [0, 40, 66]
    assert window_starts(512, 512, 341) == [0]
    assert window_starts(513, 512, 341) == [0, 1]
    assert window_starts(50, 64, 40) == [0]  # crop larger than the image: the image


@pytest.mark.parametrize("size", [(64, 96), (50, 70)])
def test_slide_with_a_crop_covering_the_image_equals_whole(toy_model, size):
    x = torch.randn(2, 3, *size)
    whole = whole_inference(toy_model, x)
    assert whole.shape == (2, K, *size)
    assert max_abs_diff(slide_inference(toy_model, x, K, crop_size=(64, 96), stride=(40, 40)), whole) < 1e-5


def test_slide_matches_mmseg_loop_with_overlap(toy_model):
    x = torch.randn(2, 3, 100, 130)
    ours = slide_inference(toy_model, x, K, crop_size=(64, 64), stride=(40, 40))
    with torch.no_grad():
        theirs = mmseg_slide(toy_model, x, K, (64, 64), (40, 40))
        whole = toy_model(x)
    assert max_abs_diff(ours, theirs) < 1e-5
    assert max_abs_diff(ours, whole) > 1e-3  # the windows really differ from the whole image here
    one = slide_inference(toy_model, x[1:], K, crop_size=(64, 64), stride=(40, 40))
    assert max_abs_diff(ours[1:], one) < 1e-5  # batching the crops of a window changes nothing


def test_slide_equals_whole_for_a_per_pixel_model_and_windows_cover_the_border():
    h, w = 120, 130
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing="ij")
    x = torch.stack([rows, cols, torch.randn(h, w)])[None]
    model = WindowRecorder()
    slid = slide_inference(model, x, K, crop_size=(64, 64), stride=(40, 40))
    assert sorted(model.windows) == [(y, x1, 64, 64) for y in (0, 40, 56) for x1 in (0, 40, 66)]
    assert max_abs_diff(slid, model.conv(x)) < 1e-5  # overlaps averaged back to the per-pixel logits
    model.windows.clear()
    slide_inference(model, x[:, :, :50, :60], K, crop_size=(64, 64), stride=(40, 40))
    assert model.windows == [(0, 0, 50, 60)]  # smaller than the crop: the image itself, not padded


@pytest.mark.parametrize("size,crop,stride", [((100, 130), (64, 64), (40, 40)), ((50, 60), (64, 64), (40, 40)),
                                               ((150, 70), (48, 64), (48, 32)), ((97, 64), (64, 64), (16, 64)),
                                               ((70, 230), (32, 48), (20, 17)), ((33, 200), (32, 32), (32, 32))])
def test_slide_labels_equal_the_argmax_of_slide_inference(toy_model, size, crop, stride):
    x = torch.randn(2, 3, *size)
    labels = slide_labels(toy_model, x, K, crop_size=crop, stride=stride)
    expected = slide_inference(toy_model, x, K, crop_size=crop, stride=stride).argmax(1)
    assert labels.dtype == torch.uint8 and labels.shape == (2, *size)
    assert torch.equal(labels.long(), expected)


class LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of a floating-point tensor that an op allocates (not a view)."""

    largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in [] if func.is_view else out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                self.largest = max(self.largest, t.numel())
        return out


def test_slide_labels_hold_one_crop_and_the_overlap_of_two_rows_of_windows():
    model = PixelModel().eval()
    x = torch.randn(1, 3, 112, 1000)
    crop, stride = (48, 48), (32, 32)  # rows of windows at 0, 32, 64: 16 rows overlap
    with LargestTensor() as tracked:
        labels = slide_labels(model, x, K, crop_size=crop, stride=stride)
    assert torch.equal(labels.long(), slide_inference(model, x, K, crop_size=crop, stride=stride).argmax(1))
    # the sums carried to the next row of windows, K x 16 x 1000; a band as tall as a window would be
    # K x 48 x 1000, the whole image's logits K x 112 x 1000
    assert tracked.largest == K * 16 * 1000


def test_slide_labels_reject_a_stride_larger_than_the_crop(toy_model):
    with pytest.raises(ValueError, match="no window covers"):
        slide_labels(toy_model, torch.randn(1, 3, 64, 64), K, crop_size=(32, 32), stride=(40, 40))


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
