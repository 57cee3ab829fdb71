"""mmsegmentation's ADE20K pipelines, in albumentations 2.x.

Training (``train_transform``), as ``configs/_base_/datasets/ade20k.py``:

1. ``RandomRescale``: pick r ~ U(0.5, 2.0), rescale keeping the aspect ratio so the image fits (2048 r, 512 r)
   (mmcv ``rescale_size``: factor = min(long_max / long, short_max / short)); bilinear image, nearest mask.
2. ``CatMaxRatioCrop``: a random 512 x 512 crop, re-drawn up to 10 times while one class covers >= 75 % of the
   labelled pixels (or the crop holds a single class).
3. Horizontal flip, p = 0.5.
4. ``PhotoMetricDistortion``: brightness, contrast (before or after the colour steps), saturation, hue.
5. Normalise with the ImageNet mean / std in 0-255 RGB, then pad bottom / right to 512 (image 0, mask 255), the
   order of mmseg's ``SegDataPreProcessor``.

Evaluation (``eval_transform``): rescale to fit (2048, 512) keeping the aspect ratio, normalise. The mask is not
transformed: predictions are resized back to the original image and scored against the original annotation.

Randomness: ``seed_transform(pipeline, seed)`` gives each step its own generator from one seed, so a sample's
augmentation is a pure function of that seed (the training sampler hands one out with every index).
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import cv2
import numpy as np
from albumentations.pytorch import ToTensorV2

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CatMaxRatioCrop",
    "PhotoMetricDistortion",
    "RandomRescale",
    "rescale_size",
    "seed_transform",
    "eval_transform",
    "train_transform",
]

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0-255
IMAGENET_STD = (58.395, 57.12, 57.375)


def rescale_size(size: tuple[int, int], scale: tuple[float, float]) -> tuple[int, int]:
    """(h, w) -> the (h, w) that fits ``scale`` (long edge, short edge) keeping the aspect ratio (mmcv rule)."""
    h, w = size
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5)


class RandomRescale(A.DualTransform):
    """Rescale to fit ``scale`` times a ratio drawn from ``ratio_range``, keeping the aspect ratio."""

    def __init__(
        self, scale: tuple[int, int] = (2048, 512), ratio_range: tuple[float, float] = (1.0, 1.0), p: float = 1.0
    ):
        super().__init__(p=p)
        self.scale = tuple(scale)
        self.ratio_range = tuple(ratio_range)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        lo, hi = self.ratio_range
        ratio = lo + self.py_random.random() * (hi - lo)
        target = (int(self.scale[0] * ratio), int(self.scale[1] * ratio))
        return {"size": rescale_size(params["shape"][:2], target)}

    def apply(self, img: np.ndarray, size: tuple[int, int], **params: Any) -> np.ndarray:
        return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)

    def apply_to_mask(self, mask: np.ndarray, size: tuple[int, int], **params: Any) -> np.ndarray:
        return cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale", "ratio_range")


class CatMaxRatioCrop(A.DualTransform):
    """mmseg ``RandomCrop``: a ``size`` crop (smaller when the image is), re-drawn up to 10 times until no class
    covers ``cat_max_ratio`` or more of the crop's labelled pixels and more than one class is present."""

    def __init__(
        self, size: tuple[int, int] = (512, 512), cat_max_ratio: float = 0.75, ignore_index: int = 255, p: float = 1.0
    ):
        super().__init__(p=p)
        self.size = tuple(size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def _random_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        y1 = self.py_random.randint(0, max(h - self.size[0], 0))
        x1 = self.py_random.randint(0, max(w - self.size[1], 0))
        return y1, min(y1 + self.size[0], h), x1, min(x1 + self.size[1], w)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        h, w = params["shape"][:2]
        box = self._random_box(h, w)
        mask = data.get("mask")
        if mask is not None and self.cat_max_ratio < 1.0:
            for _ in range(10):
                labels, counts = np.unique(mask[box[0] : box[1], box[2] : box[3]], return_counts=True)
                counts = counts[labels != self.ignore_index]
                if len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                box = self._random_box(h, w)
        return {"box": box}

    def apply(self, img: np.ndarray, box: tuple[int, int, int, int], **params: Any) -> np.ndarray:
        return img[box[0] : box[1], box[2] : box[3]]

    def apply_to_mask(self, mask: np.ndarray, box: tuple[int, int, int, int], **params: Any) -> np.ndarray:
        return mask[box[0] : box[1], box[2] : box[3]]

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size", "cat_max_ratio", "ignore_index")


class PhotoMetricDistortion(A.ImageOnlyTransform):
    """mmseg ``PhotoMetricDistortion`` on uint8 RGB; each step applies with probability 0.5.

    brightness: + U(-32, 32); contrast: x U(0.5, 1.5), first or last (coin flip); saturation: HSV S x U(0.5, 1.5);
    hue: HSV H + an integer in [-18, 18) mod 180 (OpenCV's 0-180 hue). Every step clips to 0..255 and rounds down.
    """

    def __init__(
        self,
        brightness_delta: int = 32,
        contrast_range: tuple[float, float] = (0.5, 1.5),
        saturation_range: tuple[float, float] = (0.5, 1.5),
        hue_delta: int = 18,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    def get_params(self) -> dict[str, Any]:
        rnd = self.py_random
        # draw every decision up front, in a fixed order, so the result depends only on the seed
        return {
            "brightness": rnd.uniform(-self.brightness_delta, self.brightness_delta) if rnd.random() < 0.5 else None,
            "contrast_first": rnd.random() < 0.5,
            "contrast": rnd.uniform(*self.contrast_range) if rnd.random() < 0.5 else None,
            "saturation": rnd.uniform(*self.saturation_range) if rnd.random() < 0.5 else None,
            "hue": rnd.randint(-self.hue_delta, self.hue_delta - 1) if rnd.random() < 0.5 else None,  # numpy's randint
        }

    @staticmethod
    def _convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
        return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)

    def apply(self, img: np.ndarray, **p: Any) -> np.ndarray:
        if p["brightness"] is not None:
            img = self._convert(img, beta=p["brightness"])
        if p["contrast_first"] and p["contrast"] is not None:
            img = self._convert(img, alpha=p["contrast"])
        if p["saturation"] is not None:  # mmseg converts to HSV and back for each of the two steps
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[..., 1] = self._convert(hsv[..., 1], alpha=p["saturation"])
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if p["hue"] is not None:
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0].astype(np.int32) + p["hue"]) % 180
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if not p["contrast_first"] and p["contrast"] is not None:
            img = self._convert(img, alpha=p["contrast"])
        return img

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("brightness_delta", "contrast_range", "saturation_range", "hue_delta")


def _normalize() -> A.Normalize:
    return A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD, max_pixel_value=1.0)


def train_transform(
    crop_size: tuple[int, int] = (512, 512),
    scale: tuple[int, int] = (2048, 512),
    ratio_range: tuple[float, float] = (0.5, 2.0),
    cat_max_ratio: float = 0.75,
    ignore_index: int = 255,
) -> A.Compose:
    """mmseg's ADE20K training pipeline (see the module docstring); returns CHW float image, HW mask."""
    return A.Compose(
        [
            RandomRescale(scale, ratio_range),
            CatMaxRatioCrop(crop_size, cat_max_ratio, ignore_index),
            A.HorizontalFlip(p=0.5),
            PhotoMetricDistortion(),
            _normalize(),
            A.PadIfNeeded(*crop_size, position="top_left", border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=ignore_index),
            ToTensorV2(),
        ]
    )


def eval_transform(scale: tuple[int, int] | None = (2048, 512)) -> A.Compose:
    """Rescale to fit ``scale`` keeping the aspect ratio (``None``: keep the image's size), normalise; apply to
    the image only."""
    return A.Compose(([RandomRescale(scale)] if scale is not None else []) + [_normalize(), ToTensorV2()])


def seed_transform(pipeline: A.Compose, seed: int) -> None:
    """Give every step of ``pipeline`` its own generator, all derived from ``seed``.

    (``Compose.set_random_seed`` gives every step the *same* seed, which would tie e.g. the flip to the
    brightness coin.)"""
    children = np.random.SeedSequence(seed).spawn(len(pipeline.transforms))
    for transform, child in zip(pipeline.transforms, children):
        transform.set_random_seed(int(child.generate_state(1)[0]))
