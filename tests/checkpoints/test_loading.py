"""Strict loading: every missing, unexpected and mis-shaped tensor named in one error; ImageNet encoders into
another window size and into an smp model."""

from __future__ import annotations

import pytest
import torch

from swinseg.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_model,
)
from swinseg.checkpoints.formats import detect_format
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from tests.checkpoints.conftest import to_official_seg
from tests.conftest import randomize_


def test_missing_unexpected_and_misshaped_keys_are_reported_together(tmp_path, toy_upernet):
    sd = to_official_seg(toy_upernet)
    del sd["backbone.layers.1.blocks.0.mlp.fc1.weight"]
    sd["backbone.absolute_pos_embed"] = torch.zeros(1, 16, 8, 8)
    sd["decode_head.conv_seg.bias"] = torch.zeros(7)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    assert "1 missing (backbone.layers.1.blocks.0.mlp.fc1.weight)" in msg
    assert "1 unexpected (backbone.absolute_pos_embed)" in msg
    assert "decode_head.conv_seg.bias (7 in file, 6 in model)" in msg


def test_imagenet_weights_into_another_window_size(tmp_path):
    """Format 1 into a window-12 model: bias tables resized bicubically, heads left initialised."""
    encoder = randomize_(build_model(SegmentorConfig(encoder=swin_config("swin_toy")))).backbone
    sd = {k: v for k, v in encoder.state_dict().items() if not k.startswith("out_norms")}
    sd["head.weight"], sd["norm.weight"] = torch.zeros(10, 128), torch.ones(128)
    path = tmp_path / "imagenet.pth"
    torch.save({"model": sd}, path)
    assert detect_format(torch.load(path, weights_only=True)["model"]) == "microsoft"
    cfg = SegmentorConfig(encoder=swin_config("swin_toy", window_size=12), num_classes=4)
    model = load_model(path, cfg)
    table = model.backbone.layers[0].blocks[0].attn.relative_position_bias_table
    assert table.shape == (23 * 23, 1)
    src = sd["layers.0.blocks.0.attn.relative_position_bias_table"]
    center_src, center_new = src.view(13, 13)[6, 6], table.view(23, 23)[11, 11]
    assert abs(center_src - center_new) < 0.05 * src.abs().max()  # offset 0 stays near offset 0
    assert torch.equal(model.backbone.layers[2].blocks[1].mlp.fc2.weight,
                       sd["layers.2.blocks.1.mlp.fc2.weight"])
    assert sorted(load_checkpoint(path, cfg).dropped_keys) == ["head.weight", "norm.weight"]


def test_imagenet_weights_into_an_smp_model(tmp_path):
    encoder = randomize_(build_model(SegmentorConfig(encoder=swin_config("swin_toy")))).backbone
    sd = {k: v for k, v in encoder.state_dict().items() if not k.startswith("out_norms")}
    path = tmp_path / "imagenet.pth"
    torch.save({"model": sd}, path)
    cfg = SegmentorConfig(encoder=swin_config("swin_toy"), decoder="smp:Unet", num_classes=3, aux_head=False)
    model = load_model(path, cfg)
    assert torch.equal(model.model.encoder.layers[1].blocks[1].attn.qkv.weight, sd["layers.1.blocks.1.attn.qkv.weight"])
