"""Parity with the code that publishes checkpoints, built with random weights: Hugging Face UperNet, timm
Swin (weights given in the official microsoft layout and in timm's own), smp UPerNet with timm's Swin."""

from __future__ import annotations

import re

import pytest
import segmentation_models_pytorch as smp
import timm
import torch
import torch.nn.functional as F
from transformers import SwinConfig as HFSwinConfig
from transformers import UperNetConfig, UperNetForSemanticSegmentation

import swinseg
from tests.conftest import TOY, max_abs_diff, randomize_

TOL = 1e-4


@pytest.mark.parametrize("window", [7, 12])
def test_hf_upernet_logits_match(tmp_path, window):
    backbone = HFSwinConfig(**TOY, window_size=window, out_features=["stage1", "stage2", "stage3", "stage4"])
    hf = UperNetForSemanticSegmentation(
        UperNetConfig(backbone_config=backbone, num_labels=7, hidden_size=32, auxiliary_channels=16)
    )
    randomize_(hf).eval()
    hf.save_pretrained(tmp_path / "hf")
    loaded = swinseg.load_checkpoint(tmp_path / "hf")
    model = loaded.model
    assert loaded.source_format == "hf-upernet"
    cfg = model.config
    assert (cfg.encoder.window_size, cfg.num_classes, cfg.decoder_args["channels"]) == (window, 7, 32)
    # 512x512, and 360x480 (not a multiple of 32: odd merges, padded windows, a last stage of 12x15)
    for size in [(512, 512), (360, 480)]:
        x = torch.randn(1, 3, *size)
        with torch.no_grad():
            expected = hf(pixel_values=x).logits
            got = model(x)
            hf_features = hf.backbone(x).feature_maps
            aux_expected = hf.auxiliary_head(hf_features)
            aux_got = model.auxiliary_head(model.backbone(x))
        assert expected.abs().max() > 0.1  # a meaningful comparison, not two near-zero maps
        assert max_abs_diff(got, expected) < TOL
        assert max_abs_diff(aux_got, aux_expected) < TOL


def timm_toy(img_size, window: int = 7):
    model = timm.create_model("swin_tiny_patch4_window7_224", img_size=img_size, window_size=window,
                              num_classes=10, **TOY)
    return randomize_(model).eval()


def timm_to_microsoft_layout(state_dict):
    """What microsoft/Swin-Transformer saves: downsample at the end of stage i, ``head.*``, under ``model``."""
    out = {}
    for k, v in state_dict.items():
        k = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)
        out[k.replace("head.fc.", "head.")] = v
    return {"model": out}


@pytest.mark.parametrize("layout", ["microsoft", "timm"])
@pytest.mark.parametrize("size,window", [((448, 448), 7), ((448, 672), 7), ((768, 768), 12)])
def test_encoder_features_match_timm(tmp_path, layout, size, window):
    # Built at the test size, so every stage is larger than the window and timm shifts in all of them.
    reference = timm_toy(size, window)
    sd = reference.state_dict()
    path = tmp_path / "weights.pth"
    torch.save(timm_to_microsoft_layout(sd) if layout == "microsoft" else sd, path)
    loaded = swinseg.load_checkpoint(path)
    model = loaded.model
    assert loaded.source_format == layout
    assert "head.weight" in loaded.dropped_keys or "head.fc.weight" in loaded.dropped_keys
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        expected = reference.forward_intermediates(x, intermediates_only=True)
        got = model.backbone(x)
    for i, (e, g) in enumerate(zip(expected, got)):
        # ImageNet checkpoints have no output norms; ours start as identity-affine LayerNorms.
        e = F.layer_norm(e.permute(0, 2, 3, 1), e.shape[1:2]).permute(0, 3, 1, 2)
        assert max_abs_diff(g, e) < TOL, f"stage {i}"


@pytest.mark.parametrize("size", [(512, 512), (448, 448)])
def test_smp_upernet_swin_round_trip(tmp_path, size):
    # smp-hub/upernet-swin-* are smp.UPerNet("tu-swin_*", img_size=512, decoder_channels=512, classes=150)
    reference = smp.UPerNet("tu-swin_tiny_patch4_window7_224", encoder_weights=None, classes=7,
                            decoder_channels=32, img_size=size, **TOY)
    randomize_(reference).eval()
    reference.save_pretrained(tmp_path / "smp")
    loaded = swinseg.load_checkpoint(tmp_path / "smp")
    model = loaded.model
    assert isinstance(model.model, smp.UPerNet) and loaded.source_format == "smp"
    assert type(model.model.encoder).__name__ == "SmpSwinEncoder"
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0.1
    assert max_abs_diff(got, expected) < TOL
