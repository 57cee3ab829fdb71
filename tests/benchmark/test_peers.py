"""The peers: skipped with a reason when their package is missing, and the same architecture as swinseg's model."""

from __future__ import annotations

import pytest
import torch

from swinseg.benchmark.measure import (
    profile_forward,
)
from swinseg.benchmark.peers import PeerUnavailable, build_peer
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config

# ----------------------------------------------------------------------------------------------------------
# Library
# ----------------------------------------------------------------------------------------------------------


def test_peers_are_skipped_with_a_reason(monkeypatch):
    swin_unet = SegmentorConfig(encoder=swin_config("swin_toy"), decoder="swin_unet", num_classes=5)
    for peer in ("huggingface", "smp"):
        with pytest.raises(PeerUnavailable, match="no counterpart for decoder 'swin_unet'"):
            build_peer(peer, swin_unet)
    import importlib.util

    real_find_spec = importlib.util.find_spec
    no_transformers = lambda name, *a: None if name == "transformers" else real_find_spec(name, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", no_transformers)
    with pytest.raises(PeerUnavailable, match="transformers is not installed"):
        build_peer("huggingface", SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=5))


def test_smp_unet_peer_is_the_same_architecture():
    config = SegmentorConfig(encoder=swin_config("swin_toy"), decoder="unet", num_classes=5,
                             decoder_args={"decoder_channels": [32, 16, 16, 8, 8]}, aux_head=False)  # fmt: skip
    ours, peer = build_model(config).eval(), build_peer("smp", config)
    out_norms = sum(p.numel() for p in ours.backbone.out_norms.parameters())  # timm's Swin has none
    assert profile_forward(peer, 64)["inference_params"] == profile_forward(ours, 64)["inference_params"] - out_norms
    with torch.inference_mode():
        assert peer(torch.randn(1, 3, 64, 96)).shape == (1, 5, 64, 96)


# ----------------------------------------------------------------------------------------------------------
# The command, with peers
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# The command: checkpoints, files, errors, data
# ----------------------------------------------------------------------------------------------------------


