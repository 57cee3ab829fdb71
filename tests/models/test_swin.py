"""The Swin encoder: windows, masks, shapes and strides of every variant, gradient checkpointing."""

from __future__ import annotations

import pytest
import torch

from swinseg.models.swin import (
    SWIN_VARIANTS,
    SwinBlock,
    SwinTransformer,
    relative_position_index,
    resize_relative_position_bias_table,
    swin_config,
    window_partition,
    window_reverse,
)
from tests.conftest import max_abs_diff, randomize_


def official_relative_position_index(M: int) -> torch.Tensor:
    """microsoft/Swin-Transformer's construction, written out step by step."""
    coords = torch.stack(torch.meshgrid([torch.arange(M), torch.arange(M)], indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += M - 1
    rel[:, :, 1] += M - 1
    rel[:, :, 0] *= 2 * M - 1
    return rel.sum(-1)


def official_shift_mask(Hp: int, Wp: int, M: int, s: int) -> torch.Tensor:
    """The 9-region slice construction of the official code on a padded Hp x Wp map: (nW, M*M, M*M)."""
    img = torch.zeros(1, Hp, Wp, 1)
    cnt = 0
    for h in (slice(0, -M), slice(-M, -s), slice(-s, None)):
        for w in (slice(0, -M), slice(-M, -s), slice(-s, None)):
            img[:, h, w, :] = cnt
            cnt += 1
    win = window_partition(img, M)[0, :, :, 0]  # (nW, M*M)
    mask = win[:, None, :] - win[:, :, None]
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


@pytest.mark.parametrize("M", [7, 12])
def test_relative_position_index_matches_official(M):
    assert torch.equal(relative_position_index(M), official_relative_position_index(M))


@pytest.mark.parametrize("Hp,Wp,M", [(14, 21, 7), (21, 14, 7), (24, 36, 12), (7, 7, 7)])
def test_shifted_window_mask_matches_official_nine_regions(Hp, Wp, M):
    block = SwinBlock(dim=8, num_heads=1, window_size=M, shift_size=M // 2)
    ours = block.shifted_window_mask(Hp // M, Wp // M)
    official = official_shift_mask(Hp, Wp, M, M // 2)
    # the same pairs are masked; ours with -inf (exact zeros after softmax) where the official code has -100
    assert torch.equal(ours == float("-inf"), official == -100.0)
    assert torch.equal(ours.masked_fill(ours == float("-inf"), -100.0), official)


def test_window_partition_round_trip_and_layout():
    x = torch.randn(2, 14, 21, 5)
    windows = window_partition(x, 7)
    assert windows.shape == (2, 6, 49, 5)
    # window 1 is the second window of the first row: rows 0..6, columns 7..13
    assert torch.equal(windows[:, 1].view(2, 7, 7, 5), x[:, :7, 7:14])
    assert torch.equal(window_reverse(windows, 7, 14, 21), x)


@pytest.mark.parametrize("variant", sorted(SWIN_VARIANTS))
def test_every_variant_gives_strides_4_to_32(variant):
    config = swin_config(variant)
    model = SwinTransformer(config).eval()
    C = {"swin_t": 96, "swin_s": 96, "swin_b": 128, "swin_l": 192, "swin_toy": 16}[variant]
    assert config.channels == (C, 2 * C, 4 * C, 8 * C)
    for H, W in [(64, 96), (97, 61)]:
        with torch.no_grad():
            features = model(torch.randn(1, 3, H, W))
        for i, f in enumerate(features):
            stride = 4 * 2**i
            assert f.shape == (1, C * 2**i, -(-H // stride), -(-W // stride))


@pytest.mark.parametrize("window", [7, 12])
@pytest.mark.parametrize("size", [(224, 224), (100, 333), (33, 47), (512, 384)])
def test_toy_encoder_any_size_and_window(window, size):
    model = SwinTransformer(swin_config("swin_toy", window_size=window)).eval()
    with torch.no_grad():
        features = model(torch.randn(2, 3, *size))
    assert [tuple(f.shape[2:]) for f in features] == [
        (-(-size[0] // s), -(-size[1] // s)) for s in (4, 8, 16, 32)
    ]
    assert all(torch.isfinite(f).all() for f in features)


def test_shift_and_pad_order_only_matter_off_window_multiples():
    a = randomize_(SwinTransformer(swin_config("swin_toy"))).eval()
    b = SwinTransformer(swin_config("swin_toy", shift_before_pad=True)).eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        on_grid = torch.randn(1, 3, 448, 448)  # 112, 56, 28, 14 tokens: multiples of 7
        assert max_abs_diff(a(on_grid)[-1], b(on_grid)[-1]) < 1e-5
        off_grid = torch.randn(1, 3, 256, 256)  # 64 tokens: not a multiple of 7
        assert max_abs_diff(a(off_grid)[0], b(off_grid)[0]) > 1e-3


def test_gradient_checkpointing_gives_the_same_output_and_gradients():
    plain = randomize_(SwinTransformer(swin_config("swin_toy", drop_path_rate=0.0)))
    ckpt = SwinTransformer(swin_config("swin_toy", drop_path_rate=0.0, grad_checkpointing=True))
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 80)
    outs = []
    for model in (plain, ckpt):
        model.train()
        loss = sum((f**2).mean() for f in model(x))
        loss.backward()
        outs.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    assert abs(outs[0][0] - outs[1][0]) < 1e-6
    for name, grad in outs[0][1].items():
        assert max_abs_diff(grad, outs[1][1][name]) < 1e-5, name


def test_stochastic_depth_is_linear_and_off_in_eval():
    model = SwinTransformer(swin_config("swin_t", drop_path_rate=0.3))
    rates = [b.drop_path.drop_prob for stage in model.layers for b in stage.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.3)
    assert all(b > a for a, b in zip(rates, rates[1:]))


def test_derived_tensors_are_not_saved():
    keys = SwinTransformer(swin_config("swin_toy")).state_dict()
    assert not any("relative_position_index" in k or "mask" in k for k in keys)


def test_bias_table_resize_keeps_values_at_same_size_and_interpolates():
    table = torch.randn(13 * 13, 3)
    assert resize_relative_position_bias_table(table, 7) is table
    resized = resize_relative_position_bias_table(table, 12)
    assert resized.shape == (23 * 23, 3)
    # a constant table stays constant under bicubic interpolation
    const = torch.full((13 * 13, 3), 0.5)
    assert torch.allclose(resize_relative_position_bias_table(const, 12), torch.full((23 * 23, 3), 0.5), atol=1e-6)
