"""Shared by the checkpoint tests: a toy UPerNet and its weights written in the official-seg and mmseg layouts."""

from __future__ import annotations

import re

import pytest
import torch

from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import relative_position_index, swin_config
from tests.conftest import randomize_


@pytest.fixture
def toy_upernet():
    cfg = SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=6, decoder_args={"channels": 32},
                          aux_args={"channels": 16})
    return randomize_(build_model(cfg)).eval()


def to_official_seg(model) -> dict:
    """Swin-Transformer-Semantic-Segmentation / mmseg 0.x layout, persistent index buffers included."""
    out = {}
    for k, v in model.state_dict().items():
        k = re.sub(r"^backbone\.out_norms\.(\d)\.", r"backbone.norm\1.", k)
        out[k] = v
        if k.endswith("attn.relative_position_bias_table"):
            M = (int(v.shape[0] ** 0.5) + 1) // 2
            out[k.replace("relative_position_bias_table", "relative_position_index")] = relative_position_index(M)
    return out


def mmseg_unfold_order(x: torch.Tensor) -> torch.Tensor:
    """mmseg's swin_converter: correct_unfold_reduction_order / correct_unfold_norm_order (official -> unfold)."""
    if x.ndim == 2:
        out_c, in_c = x.shape
        return x.reshape(out_c, 4, in_c // 4)[:, [0, 2, 1, 3], :].transpose(1, 2).reshape(out_c, in_c)
    return x.reshape(4, x.shape[0] // 4)[[0, 2, 1, 3], :].transpose(0, 1).reshape(x.shape[0])


def to_mmseg(model) -> dict:
    """mmsegmentation native Swin layout, following mmseg's swin2mmseg converter."""
    out = {}
    for k, v in to_official_seg(model).items():
        if k.startswith("backbone.layers"):
            if ".downsample." in k:
                v = mmseg_unfold_order(v)
            k = k.replace(".attn.", ".attn.w_msa.").replace(".mlp.fc1.", ".ffn.layers.0.0.")
            k = k.replace(".mlp.fc2.", ".ffn.layers.1.").replace("backbone.layers", "backbone.stages", 1)
        k = k.replace("backbone.patch_embed.proj.", "backbone.patch_embed.projection.")
        out[k] = v
    return out
