"""swinseg's own checkpoint file: round trips for every decoder, no overwriting, convert, and the classes, recipe
and inference settings it carries."""

from __future__ import annotations

import pytest
import torch

from swinseg.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from swinseg.data.classes import default_classes
from swinseg.data.config import DataConfig
from swinseg.inference import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from swinseg.training.config import TrainConfig
from tests.conftest import max_abs_diff, randomize_


def test_swinseg_checkpoint_round_trip_all_decoders(tmp_path):
    for decoder in ["upernet", "unet", "swin_unet", "smp:FPN"]:
        cfg = SegmentorConfig(encoder=swin_config("swin_toy"), decoder=decoder, num_classes=3)
        model = randomize_(build_model(cfg)).eval()
        path = save_checkpoint(model, tmp_path / f"{decoder.replace(':', '_')}.safetensors")
        loaded = load_model(path)
        assert loaded.config == cfg and not loaded.training
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            assert max_abs_diff(loaded(x), model(x)) == 0.0


def test_save_refuses_to_overwrite_and_leaves_no_temp_files(tmp_path, toy_upernet):
    path = save_checkpoint(toy_upernet, tmp_path / "m.safetensors")
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="exists already"):
        save_checkpoint(toy_upernet, path)
    assert path.read_bytes() == before
    save_checkpoint(toy_upernet, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_checkpoint_carries_classes_recipe_and_inference_settings(tmp_path):
    cfg = SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=3, decoder_args={"channels": 16})
    model = randomize_(build_model(cfg)).eval()
    bare = load_checkpoint(save_checkpoint(model, tmp_path / "bare.safetensors"))
    assert bare.source_format == "swinseg" and bare.recipe is None and bare.dropped_keys == ()
    assert bare.classes == default_classes(3)
    assert bare.inference == InferenceConfig("whole", (512, 512))  # ADE20K's recipe crop, resolved
    recipe = TrainConfig(model=cfg, data=DataConfig(crop_size=(64, 96), scale=(256, 128))).to_dict()
    path = save_checkpoint(model, tmp_path / "full.safetensors", run_config=recipe,
                           inference=InferenceConfig("slide", (48, 48), scales=(0.5, 1.0)))  # fmt: skip
    full = load_checkpoint(path)
    assert full.inference == InferenceConfig("slide", (48, 48), (32, 32), scales=(0.5, 1.0))
    assert full.data == DataConfig(crop_size=(64, 96), scale=(256, 128)) and full.recipe["data"]["crop_size"] == [64, 96]
    assert load_checkpoint(path, inference=InferenceConfig("auto")).inference == InferenceConfig("auto", (64, 96))
