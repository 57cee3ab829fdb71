"""Shared by the inference tests: a toy UPerNet, a per-pixel model whose answer is known, and mmsegmentation's
sliding-window loop written out."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from swinseg.models import SegmentorConfig, build_model, swin_config
from tests.conftest import randomize_

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
