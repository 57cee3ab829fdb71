"""Which inference a batch of images takes, and its labels (and confidence, probabilities) at their original
sizes: the choice ``swinseg predict`` and ``swinseg eval`` make for every batch / image.

============================================  ==============================================================
labels only, sliding windows, native size     :func:`slide_labels`: labels straight from the windows
labels only, sliding windows, resized image   the windows' logits, then :func:`resized_argmax`
labels only, whole image                      the head's own-stride logits, its resize to the input and the
                                              resize to the image's size composed (:func:`resized_argmax`)
anything else (TTA, confidence, probs)        scores (:func:`predict_logits` / sliding / whole), then
                                              :func:`labels_from_scores`
============================================  =============================================================="""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from swinseg.inference.labels import labels_from_scores, resized_argmax
from swinseg.inference.logits import predict_logits
from swinseg.inference.sliding import slide_inference, slide_labels
from swinseg.inference.whole import whole_inference
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SwinsegModel

__all__ = ["ImagePrediction", "direct_labels", "predict_batch"]


@dataclass(frozen=True)
class ImagePrediction:
    """One image's outputs at its original size: labels (H, W) uint8, confidence (H, W) float32 and
    probabilities (K, H, W) float16 when asked for."""

    labels: np.ndarray
    confidence: np.ndarray | None = None
    probs: np.ndarray | None = None


@torch.inference_mode()
def direct_labels(
    model: SwinsegModel | nn.Module,
    images: Tensor,
    sizes: Sequence[tuple[int, int]],
    inference: InferenceConfig,
    num_classes: int,
) -> list[Tensor] | None:
    """The labels (H, W) at each of ``sizes`` of normalised ``images`` (B, 3, h, w), those of
    ``predict_logits(...).argmax(1)``, without the scores of all classes at the images' sizes; None with
    test-time augmentation (the mean of the views' probabilities needs them).

    Sliding windows at the images' own size: straight from the windows (:func:`slide_labels`, never the whole
    image's logits); over a resized image: the windows' logits, resized a few rows at a time by
    :func:`resized_argmax`. A whole image: the head's logits at its stride, its resize to the input and the one
    to the image's size composed (:func:`resized_argmax` via the input; the model's logits for a model without
    ``head_logits``).
    """
    if inference.tta:
        return None
    if inference.mode_for(images.shape[2:]) == "slide":
        crop, stride = inference.require_crop(), inference.stride
        if all(tuple(s) == tuple(images.shape[2:]) for s in sizes):
            return list(slide_labels(model, images, num_classes, crop, stride))
        scores, via = slide_inference(model, images, num_classes, crop, stride), None
    elif hasattr(model, "head_logits"):
        scores, via = model.head_logits(images), images.shape[2:]
    else:
        scores, via = whole_inference(model, images), None
    return [resized_argmax(image_scores.float(), size, via=via) for size, image_scores in zip(sizes, scores)]


@torch.inference_mode()
def predict_batch(
    model: SwinsegModel,
    images: Tensor,
    sizes: Sequence[tuple[int, int]],
    inference: InferenceConfig,
    num_classes: int,
    confidence: bool = False,
    probs: bool = False,
) -> list[ImagePrediction]:
    """Predictions for normalised ``images`` (B, 3, h, w) of equal network size whose originals are ``sizes``.

    With test-time augmentation the batch is predicted one image at a time; all else goes through the model
    together. The labels are those of ``predict_logits(...).argmax(1)`` whichever way they are computed.
    """
    labels = None if confidence or probs else direct_labels(model, images, sizes, inference, num_classes)
    if labels is not None:
        return [ImagePrediction(image_labels.to(torch.uint8).cpu().numpy()) for image_labels in labels]
    if inference.tta:
        outputs = [predict_logits(model, images[i : i + 1], size, inference, num_classes)[0]
                   for i, size in enumerate(sizes)]  # fmt: skip
    elif inference.mode_for(images.shape[2:]) == "slide":
        outputs = list(slide_inference(model, images, num_classes, inference.require_crop(), inference.stride))
    else:
        outputs = list(whole_inference(model, images))
    return [
        ImagePrediction(*labels_from_scores(scores, size, are_probs=inference.tta, confidence=confidence, probs=probs))
        for size, scores in zip(sizes, outputs)
    ]
