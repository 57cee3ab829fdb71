"""The recipe's optimizer and schedule: mmseg's linear warm-up then poly decay, no weight decay on norms and
position bias."""

from __future__ import annotations

from pathlib import Path

import pytest

from swinseg.models.segmentor import build_model
from swinseg.training.config import OptimConfig
from swinseg.training.optim import build_optimizer, lr_factor
from tests.blocks import tiny_config


def test_lr_schedule_is_mmseg_linear_warmup_then_poly():
    cfg = OptimConfig()  # 6e-5, warm-up 1500 iterations from 1e-6, poly power 1 to 0 at 160k
    f = lr_factor(cfg, 160_000)
    assert f(0) == pytest.approx(1e-6)
    assert f(750) == pytest.approx(1e-6 + (1 - 1e-6) * 0.5)
    assert f(1500) == pytest.approx(1.0)
    assert f(1500 + (160_000 - 1500) // 2) == pytest.approx(0.5, abs=1e-5)
    assert f(160_000) == 0.0
    power = lr_factor(OptimConfig(poly_power=0.9, min_lr=1e-6, warmup_iters=0), 100)
    assert power(50) == pytest.approx((1 - 1e-6 / 6e-5) * 0.5**0.9 + 1e-6 / 6e-5)


def test_no_weight_decay_on_norms_and_position_bias():
    model = build_model(tiny_config(Path("."), Path(".")).model)
    decay, no_decay = build_optimizer(model, OptimConfig()).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.01
    assert "backbone.layers.0.blocks.0.attn.relative_position_bias_table" in no_decay_names
    assert "backbone.layers.0.blocks.0.norm1.weight" in no_decay_names
    assert "backbone.out_norms.3.bias" in no_decay_names
    assert all(("norm" in n or "relative_position_bias_table" in n) for n in no_decay_names)
    assert "backbone.layers.0.blocks.0.attn.qkv.weight" in {names[id(p)] for p in decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


