"""Every shipped config parses and builds the architecture it names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.training.config import load_train_config

CONFIG_DIR = Path(__file__).parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
RECIPES = sorted(CONFIG_DIR.glob("*_ade20k_512.yaml"))  # the published ADE20K settings


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds(path):
    config = SegmentorConfig.from_dict(yaml.safe_load(path.read_text())["model"])
    with torch.device("meta"):
        model = build_model(config)
    assert model.config.num_classes == (20 if path.stem == "demo_cpu" else 150)  # the demo: the easy synthetic set
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    # Published sizes: UPerNet Swin-T 60M, Swin-S 81M, Swin-B 121M (mmsegmentation model zoo).
    expected = {"upernet_swin_t_ade20k_512": 60, "upernet_swin_s_ade20k_512": 81, "upernet_swin_b_ade20k_512": 121,
                "upernet_swin_l_ade20k_512": 234}
    if path.stem in expected:
        assert abs(n_params - expected[path.stem]) < 1.5, n_params


def test_the_issue_list_of_configs_ships():
    names = {p.stem for p in CONFIGS}
    assert {f"upernet_swin_{v}_ade20k_512" for v in "tsbl"} | {"unet_swin_t_ade20k_512", "swin_unet_t_ade20k_512"} <= names
    assert "demo_cpu" in names


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_config_is_the_paper_training_recipe(path):
    cfg = load_train_config(path)
    assert cfg.model == SegmentorConfig.from_dict(yaml.safe_load(path.read_text())["model"])
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.warmup_iters, cfg.max_iters) == (6e-5, 0.01, 1500, 160_000)
    assert (cfg.data.dataset, cfg.data.crop_size, cfg.data.batch_size, cfg.data.cat_max_ratio) == ("ade20k", (512, 512), 16, 0.75)
    assert cfg.losses == {"ce": 1.0} and cfg.work_dir == f"runs/{path.stem}"


def test_config_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lrr: 1.0}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown optim config key 'lrr' \(did you mean 'lr'\?\)"):
        load_train_config(bad)
    assert load_train_config(CONFIGS[0], {"optim.lr": 1e-4, "max_iters": 10}).optim.lr == 1e-4


def test_demo_config_file_is_what_the_demo_runs():
    from swinseg.demo import demo_config

    assert load_train_config(CONFIG_DIR / "demo_cpu.yaml") == demo_config("swinseg-demo")


def test_window_12_for_the_384_pretrained_variants():
    for variant, window in (("t", 7), ("s", 7), ("b", 12), ("l", 12)):
        cfg = load_train_config(CONFIG_DIR / f"upernet_swin_{variant}_ade20k_512.yaml")
        assert cfg.model.encoder.window_size == window
