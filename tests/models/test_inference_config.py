"""InferenceConfig: mmsegmentation's test_cfg in one frozen dataclass; its defaults and checks live there only."""

from __future__ import annotations

import pytest

from swinseg.models.inference_config import TTA_SCALES, InferenceConfig, default_stride
from swinseg.training.config import TrainConfig


def test_stride_defaults_to_two_thirds_of_the_crop_once_the_crop_is_known():
    assert default_stride((512, 512)) == (341, 341)
    assert InferenceConfig().crop_size is None and InferenceConfig().stride is None
    resolved = InferenceConfig("slide").resolve((512, 683))
    assert (resolved.crop_size, resolved.stride) == ((512, 683), (341, 455))
    assert InferenceConfig("slide", (96, 96)).resolve((512, 512)).crop_size == (96, 96)  # its own crop wins
    assert InferenceConfig("slide", [64, 48], [32, 16]).stride == (32, 16)  # lists from YAML become tuples


def test_command_line_overrides_recompute_the_stride_of_a_new_crop():
    base = InferenceConfig("whole", (512, 512))
    assert base.with_overrides(crop_size=(96, 96)).stride == (64, 64)
    assert base.with_overrides(crop_size=(96, 96), stride=(90, 90)).stride == (90, 90)
    assert base.with_overrides(mode="slide").stride == (341, 341)
    tta = base.with_overrides(tta=True)
    assert tta.scales == TTA_SCALES and tta.flip and tta.tta and len(tta.views) == 12
    assert not base.tta and base.views == [(1.0, False)]


def test_auto_slides_when_the_input_is_more_than_twice_the_crop():
    auto = InferenceConfig("auto", (64, 64))
    assert [auto.mode_for(s) for s in [(128, 128), (129, 100), (100, 129)]] == ["whole", "slide", "slide"]
    assert InferenceConfig("slide", (64, 64)).mode_for((10, 10)) == "slide"
    with pytest.raises(ValueError, match="crop_size is not set"):
        InferenceConfig("auto").mode_for((10, 10))


@pytest.mark.parametrize("kwargs,message", [
    ({"mode": "tiles"}, "inference.mode: expected one of whole, slide, auto, got 'tiles'"),
    ({"crop_size": (0, 64)}, r"inference.crop_size: expected two positive sizes \(H, W\), got \[0, 64\]"),
    ({"crop_size": (64,)}, "inference.crop_size: expected two positive sizes"),
    ({"crop_size": (64, 64), "stride": (65, 10)}, "larger than the crop"),
    ({"scales": ()}, "inference.scales: expected one or more positive ratios"),
    ({"scales": (1.0, -0.5)}, "inference.scales"),
])  # fmt: skip
def test_bad_values_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InferenceConfig(**kwargs)


def test_dict_round_trip_and_the_recipe_section():
    config = InferenceConfig("slide", (64, 96), scales=(0.5, 1.0), flip=True)
    assert InferenceConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown inference config key 'flipp' \\(did you mean 'flip'\\?\\)"):
        InferenceConfig.from_dict({"flipp": True})
    recipe = TrainConfig.from_dict({"inference": {"mode": "slide", "crop_size": [64, 64]}})
    assert recipe.inference == InferenceConfig("slide", (64, 64), (42, 42))
    legacy = TrainConfig.from_dict({"eval_mode": "slide"})  # the key before inference: (old checkpoints carry it)
    assert legacy.inference.mode == "slide"
