"""Sliding windows against mmsegmentation's loop written out and against a per-pixel model whose answer is known;
slide_labels equals their argmax while holding one crop and the overlap of two rows of windows."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from swinseg.inference import (
    slide_inference,
    slide_labels,
    whole_inference,
    window_starts,
)
from tests.conftest import max_abs_diff
from tests.inference.conftest import K, PixelModel, mmseg_slide


class WindowRecorder(PixelModel):
    """Reads where each crop lies from coordinate channels (channel 0 = row, channel 1 = column)."""

    def __init__(self) -> None:
        super().__init__()
        self.windows: list[tuple[int, int, int, int]] = []  # (y1, x1, h, w) of each crop seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.windows.append((int(x[0, 0, 0, 0]), int(x[0, 1, 0, 0]), x.shape[2], x.shape[3]))
        return super().forward(x)


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


