"""Running a model on images at test time, with mmsegmentation's rules.

- :class:`InferenceConfig` (defined beside the model config, see :mod:`swinseg.models.inference_config`): mode,
  crop, stride, scales, flip, resolved once and passed as one argument.
- ``whole``: one forward pass; ``sliding``: sliding windows, and labels straight from the windows;
  ``logits``: scores at the original size with test-time augmentation; ``labels``: labels, confidence and
  probabilities at the original size, a slab at a time; ``strategy``: which of these a batch of images takes
  (:func:`predict_batch`).
"""

from swinseg.inference.labels import labels_from_scores, resized_argmax
from swinseg.inference.logits import predict_logits
from swinseg.inference.sliding import slide_inference, slide_labels, window_starts
from swinseg.inference.strategy import ImagePrediction, predict_batch
from swinseg.inference.whole import run_model, whole_inference
from swinseg.models.inference_config import TTA_SCALES, InferenceConfig, default_stride

__all__ = [
    "TTA_SCALES",
    "ImagePrediction",
    "InferenceConfig",
    "default_stride",
    "labels_from_scores",
    "predict_batch",
    "predict_logits",
    "resized_argmax",
    "run_model",
    "slide_inference",
    "slide_labels",
    "whole_inference",
    "window_starts",
]
