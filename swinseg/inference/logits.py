"""Scores at the original image size, with mmsegmentation's rules: whole image or sliding window, and the
multi-scale + flip test-time augmentation, as an :class:`InferenceConfig` says.

The model maps normalised images (B, 3, h, w) to logits (B, K, h, w) at any size, in eval mode.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from swinseg.inference.sliding import slide_inference
from swinseg.inference.whole import whole_inference
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.ops.resize import resize

__all__ = ["predict_logits"]


def predict_logits(
    model: nn.Module,
    image: Tensor,
    out_size: tuple[int, int],
    inference: InferenceConfig = InferenceConfig(),
    num_classes: int | None = None,
) -> Tensor:
    """Scores (B, K, *out_size) for a resized, normalised (B, 3, h, w) image (usually B = 1); argmax over dim 1
    is the prediction. ``out_size`` is the original image's (H, W).

    With one view (one scale, no flip) these are the logits resized to ``out_size`` (bilinear, align_corners
    False). With several (each scale s, and its horizontal flip when ``flip``) they are the mean of the views'
    softmax probabilities, each view's logits flipped back and resized to ``out_size`` first: what mmseg 1.x's
    ``SegTTAModel.merge_preds`` (softmax of each ``seg_logits``, then the mean) and 0.x's ``aug_test`` (mean of
    ``inference``, which is softmax of the resized logits) do. Scale s resizes the given tensor to
    ``int(h * s + 0.5) x int(w * s + 0.5)`` (bilinear, align_corners False); mmseg instead resizes the original
    image with keep_ratio to s times the test scale, which differs by the first resize's rounding only.

    Sliding windows (``inference.mode_for`` the given image, for all its views) need ``num_classes`` and a
    resolved crop; crop and stride apply to each rescaled view. Runs on the model's device under ``torch.inference_mode()``.
    """
    param = next(model.parameters(), None)
    image = image.to(param.device) if param is not None else image
    h, w = image.shape[2:]
    mode = inference.mode_for((h, w))  # decided once, on the given image, for every view
    views = inference.views
    total = None
    with torch.inference_mode():
        for scale, flipped in views:
            x = resize(image, (int(h * scale + 0.5), int(w * scale + 0.5)))
            x = x.flip(3) if flipped else x
            if mode == "slide":
                if num_classes is None:
                    raise ValueError("slide inference needs num_classes")
                logits = slide_inference(model, x, num_classes, inference.require_crop(), inference.stride)
            else:
                logits = whole_inference(model, x)
            logits = resize(logits.flip(3) if flipped else logits, out_size)
            if len(views) == 1:
                return logits
            probs = logits.softmax(dim=1)
            total = probs if total is None else total.add_(probs)
    return total / len(views)
