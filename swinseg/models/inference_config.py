"""How a model is run at test time: mmsegmentation's ``test_cfg`` (whole image or sliding window) and its
multi-scale + flip test-time augmentation, in one frozen dataclass.

It sits beside the model's config, as ``test_cfg`` sits in mmsegmentation's model config, because both travel
together: the training recipe holds one (``inference:``), every swinseg checkpoint carries it, and evaluation,
prediction and the inference functions take it as one argument. Defaults and validation live here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

from swinseg.core.config_keys import check_known_keys
from swinseg.core.config_types import PositiveFloat, PositiveInt, validated

__all__ = ["INFERENCE_MODES", "TTA_SCALES", "InferenceConfig", "default_stride"]

INFERENCE_MODES = ("whole", "slide", "auto")

# mmsegmentation's ADE20K multi-scale test: these ratios of the test scale, each also flipped
TTA_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def default_stride(crop_size: Sequence[int]) -> tuple[int, int]:
    """Two thirds of the crop: 512 -> 341, mmsegmentation's ADE20K sliding-window setting."""
    return crop_size[0] * 2 // 3, crop_size[1] * 2 // 3


def _pair(value: Sequence[int] | None, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"inference.{name}: expected two positive sizes (H, W), got {list(value)}")
    return pair  # type: ignore[return-value]


@dataclass(frozen=True)
class InferenceConfig:
    """mode: ``whole`` (one forward pass per image), ``slide`` (``crop_size`` windows every ``stride`` pixels,
    averaged where they overlap) or ``auto`` (slide when the network input is more than twice the crop in
    height or width, else whole).
    crop_size: the sliding window, (H, W); ``None`` until :meth:`resolve` gives it the recipe's training crop.
    stride: the window step; ``None`` means two thirds of the crop (:func:`default_stride`).
    scales, flip: test-time augmentation, the mean of the softmax of every (scale, flip) view; one scale and
    no flip is plain inference, ``with_tta()`` is mmsegmentation's ADE20K multi-scale + flip.
    """

    mode: Literal["whole", "slide", "auto"] = "whole"
    crop_size: tuple[PositiveInt, PositiveInt] | None = None
    stride: tuple[PositiveInt, PositiveInt] | None = None
    scales: tuple[PositiveFloat, ...] = (1.0,)
    flip: bool = False

    def __post_init__(self) -> None:
        if self.mode not in INFERENCE_MODES:
            raise ValueError(f"inference.mode: expected one of {', '.join(INFERENCE_MODES)}, got {self.mode!r}")
        crop, stride = _pair(self.crop_size, "crop_size"), _pair(self.stride, "stride")
        if crop is not None and stride is None:
            stride = default_stride(crop)
        if crop is not None and (stride[0] > crop[0] or stride[1] > crop[1]):
            raise ValueError(f"inference.stride: {list(stride)} is larger than the crop {list(crop)}, which leaves "
                             "pixels that no window covers")  # fmt: skip
        scales = tuple(float(s) for s in self.scales)
        if not scales or min(scales) <= 0:
            raise ValueError(f"inference.scales: expected one or more positive ratios, got {list(self.scales)}")
        object.__setattr__(self, "crop_size", crop)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "flip", bool(self.flip))

    def resolve(self, crop_size: Sequence[int]) -> InferenceConfig:
        """This config with ``crop_size`` (the recipe's ``data.crop_size``) where it has none, and so a stride."""
        return self if self.crop_size is not None else replace(self, crop_size=tuple(crop_size))

    def with_tta(self, enabled: bool = True) -> InferenceConfig:
        """mmsegmentation's ADE20K test-time augmentation: scales :data:`TTA_SCALES`, each also flipped."""
        return replace(self, scales=TTA_SCALES, flip=True) if enabled else self

    def with_overrides(
        self,
        mode: str | None = None,
        crop_size: Sequence[int] | None = None,
        stride: Sequence[int] | None = None,
        tta: bool = False,
    ) -> InferenceConfig:
        """The command line's ``--mode --crop --stride --tta`` over this config: a new crop without a stride
        gets two thirds of it."""
        changes: dict = {}
        if mode is not None:
            changes["mode"] = mode
        if crop_size is not None:
            changes.update(crop_size=tuple(crop_size), stride=None)
        if stride is not None:
            changes["stride"] = tuple(stride)
        return replace(self, **changes).with_tta(tta)

    @property
    def views(self) -> list[tuple[float, bool]]:
        """Every (scale, flipped) view, in the order they are averaged."""
        return [(s, f) for s in self.scales for f in ((False, True) if self.flip else (False,))]

    @property
    def tta(self) -> bool:
        """More than one view: the scores are averaged probabilities, not logits."""
        return len(self.views) > 1

    def mode_for(self, size: Sequence[int]) -> str:
        """``whole`` or ``slide`` for a network input of ``size`` = (H, W)."""
        if self.mode != "auto":
            return self.mode
        crop = self.require_crop()
        return "slide" if size[0] > 2 * crop[0] or size[1] > 2 * crop[1] else "whole"

    def require_crop(self) -> tuple[int, int]:
        if self.crop_size is None:
            raise ValueError("inference.crop_size is not set: resolve() the config with the recipe's crop first")
        return self.crop_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> InferenceConfig:
        check_known_keys("inference config", data, cls)
        return validated(cls, data, "inference.")
