"""Round trips through the foreign layouts that have no installable oracle (official segmentation / mmseg 0.x,
mmseg 1.x): converted to swinseg's names, the same logits."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from swinseg.checkpoints import (
    load_checkpoint,
)
from tests.checkpoints.conftest import to_mmseg, to_official_seg
from tests.conftest import max_abs_diff


@pytest.mark.parametrize("fmt,export", [("official-seg", to_official_seg), ("mmseg", to_mmseg)])
def test_mmseg_layouts_round_trip(tmp_path, toy_upernet, fmt, export):
    path = tmp_path / "ckpt.pth"
    torch.save({"meta": {"CLASSES": ["a"] * 6}, "state_dict": export(toy_upernet)}, path)
    loaded = load_checkpoint(path)
    model = loaded.model
    assert loaded.source_format == fmt
    got, want = model.config, toy_upernet.config
    assert replace(got.encoder, drop_path_rate=0.0) == replace(want.encoder, drop_path_rate=0.0)
    assert (got.num_classes, got.decoder_args, got.aux_args["channels"]) == (6, {"channels": 32}, 16)
    x = torch.randn(1, 3, 100, 150)
    with torch.no_grad():
        assert max_abs_diff(model(x), toy_upernet(x)) < 1e-5


def test_mmseg_patch_merging_order_is_not_the_identity(toy_upernet):
    # Without the unfold reordering the features differ: the test above would catch a missing permutation.
    sd = to_mmseg(toy_upernet)
    w = sd["backbone.stages.0.downsample.reduction.weight"]
    assert not torch.equal(w, toy_upernet.state_dict()["backbone.layers.0.downsample.reduction.weight"])


