"""Every shipped config parses and builds the architecture it names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from swinseg.models.segmentor import SegmentorConfig, build_model

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds(path):
    config = SegmentorConfig.from_dict(yaml.safe_load(path.read_text())["model"])
    with torch.device("meta"):
        model = build_model(config)
    assert model.swinseg_config.num_classes == 150
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    # Published sizes: UPerNet Swin-T 60M, Swin-S 81M, Swin-B 121M (mmsegmentation model zoo).
    expected = {"upernet_swin_t_ade20k": 60, "upernet_swin_s_ade20k": 81, "upernet_swin_b_ade20k": 121}
    if path.stem in expected:
        assert abs(n_params - expected[path.stem]) < 1.5, n_params
