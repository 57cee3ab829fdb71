"""The coarse-grid routes for a 3x3 convolution of a bilinearly upsampled map equal upsample-then-convolve: the
integer-factor route with autograd (training) and the any-size route of matrix products (inference)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from swinseg.models.heads.uper import UPerHead
from swinseg.models.ops import upsampled_conv
from swinseg.models.ops.resize import resize
from swinseg.models.ops.upsampled_conv import (
    add_resized_conv3x3_,
    add_upsampled_conv3x3_,
    integer_factors,
    phase_coefficients,
    resized_conv3x3_kernels,
)
from tests.conftest import randomize_


def upsample_then_conv(x: torch.Tensor, weight: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.conv2d(F.interpolate(x, size=size, mode="bilinear", align_corners=False), weight, padding=1)


@pytest.mark.parametrize(
    "h,w,sy,sx",
    [(4, 5, 2, 2), (3, 7, 4, 4), (5, 4, 8, 8), (6, 6, 2, 4), (1, 1, 4, 4), (2, 3, 3, 3), (1, 5, 2, 1), (16, 16, 8, 8)],
)
def test_equals_upsample_then_conv_in_float64(h, w, sy, sx):
    torch.manual_seed(0)
    x = torch.randn(2, 6, h, w, dtype=torch.float64)
    weight = torch.randn(5, 6, 3, 3, dtype=torch.float64)
    start = torch.randn(2, 5, h * sy, w * sx, dtype=torch.float64)
    out = add_upsampled_conv3x3_(start.clone(), x, weight)
    expected = start + upsample_then_conv(x, weight, (h * sy, w * sx))
    assert (out - expected).abs().max().item() < 1e-12


@pytest.mark.parametrize(
    "coarse,fine",
    [((64, 86), (128, 171)), ((4, 5), (8, 10)), ((3, 7), (24, 28)), ((5, 3), (13, 20)), ((1, 1), (3, 4)),
     ((6, 6), (6, 6)), ((9, 7), (4, 5)), ((2, 3), (7, 1))],  # fmt: skip
)
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("band", [None, 3])  # 64 output rows / columns at a time (one band or a few); 3 at a time
def test_any_size_route_equals_upsample_then_conv_in_float64(coarse, fine, layout, band, monkeypatch):
    """Non-integer factors (683-wide images: 64x86 -> 128x171), integer ones, the same size, shrinking; a
    channels-last output (as at inference) and a plain one (written through a channels-last copy); the resize
    matrices whole or in bands of 3 outputs."""
    if band is not None:
        monkeypatch.setattr(upsampled_conv, "_BAND", band)
    torch.manual_seed(0)
    x = torch.randn(2, 6, *coarse, dtype=torch.float64).contiguous(memory_format=layout)
    weight = torch.randn(5, 6, 3, 3, dtype=torch.float64)
    start = torch.randn(2, 5, *fine, dtype=torch.float64).contiguous(memory_format=layout)
    with torch.no_grad():
        out = add_resized_conv3x3_(start.clone(memory_format=layout), x, resized_conv3x3_kernels(weight))
    assert out.is_contiguous(memory_format=layout)
    assert (out - start - upsample_then_conv(x, weight, fine)).abs().max().item() < 1e-12


def test_any_size_route_is_counted_by_the_flop_counter(monkeypatch):
    """Every product is one FlopCounterMode counts (benchmarks report FLOPs / s): the channel mixing, and the
    resize products band by band, on the meta device as count_flops runs models."""
    from torch.utils.flop_counter import FlopCounterMode

    monkeypatch.setattr(upsampled_conv, "_BAND", 4)
    B, C, O, (h, w), (H, W) = 2, 6, 5, (5, 7), (11, 14)
    x = torch.empty(B, C, h, w, device="meta").contiguous(memory_format=torch.channels_last)
    out = torch.empty(B, O, H, W, device="meta").contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        add_resized_conv3x3_(out, x, torch.empty(3, C, 3 * O, device="meta"))
    _, row_bands = upsampled_conv._shifted_resize(h, H, torch.float32, 4)
    _, col_bands = upsampled_conv._shifted_resize(w, W, torch.float32, 4)
    size = lambda s: s.stop - s.start  # noqa: E731
    mixing = 2 * h * w * C * 9 * O
    along_y = sum(3 * 2 * size(ys) * size(yr) * w * 3 * O for ys, yr in row_bands)
    along_x = sum(2 * H * size(xs) * 3 * size(xr) * O for xs, xr in col_bands)
    assert len(row_bands) == 3 and len(col_bands) == 4
    assert counter.get_total_flops() == B * (mixing + along_y + along_x)


def test_any_size_route_checks_its_kernels():
    with pytest.raises(ValueError, match="kernels"):
        add_resized_conv3x3_(torch.zeros(1, 4, 8, 8), torch.zeros(1, 2, 4, 4), torch.zeros(3, 3, 12))


@pytest.mark.parametrize("tap_bytes", [None, 1])  # all output channels at once; one at a time
def test_gradients_equal_those_of_upsample_then_conv(tap_bytes, monkeypatch):
    if tap_bytes is not None:
        monkeypatch.setattr(upsampled_conv, "_TAP_BYTES", tap_bytes)
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 3, 20, 24, dtype=torch.float64)
    ours = (add_upsampled_conv3x3_(torch.zeros(2, 3, 20, 24, dtype=torch.float64), x, weight) * target).sum()
    grads = torch.autograd.grad(ours, (x, weight))
    reference = (upsample_then_conv(x, weight, (20, 24)) * target).sum()
    expected = torch.autograd.grad(reference, (x, weight))
    for g, e in zip(grads, expected):
        assert (g - e).abs().max().item() < 1e-10


def test_training_keeps_no_tap_map_for_backward():
    """Autograd keeps the coarse input, its padded copy and the weights, but not the (B * O, 9, h + 2, w + 2)
    tap maps (the phase convolution's kernel is constant), the largest tensors of the computation, nor a
    reordered copy of the weights; gradients as above (float64 equality is checked there)."""
    x = torch.randn(2, 8, 6, 7, requires_grad=True)
    weight = torch.randn(16, 8, 3, 3, requires_grad=True)
    saved: list[tuple[int, ...]] = []

    def keep(t: torch.Tensor) -> torch.Tensor:
        saved.append(tuple(t.shape))
        if t.numel() % (16 * 8) == 0 and t.dim() >= 2 and t.shape[0] in (16, 16 * 9):  # (a part of) the weight
            assert t.untyped_storage().data_ptr() == weight.untyped_storage().data_ptr(), t.shape
        return t

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        out = add_upsampled_conv3x3_(torch.zeros(2, 16, 24, 28), x, weight)
    assert saved and (2 * 16, 9, 8, 9) not in saved
    assert max(math.prod(s) for s in saved) < 2 * 16 * 9 * 8 * 9
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0 and weight.grad.abs().sum() > 0


def test_phase_coefficients_are_bilinear_weights():
    # s = 2, phase 0: fine rows 2i-1, 2i, 2i+1 sit at coarse positions i-0.75, i-0.25, i+0.25
    assert phase_coefficients(2)[0] == ((0.75, 0.25, 0.0), (0.25, 0.75, 0.0), (0.0, 0.75, 0.25))
    for s in (2, 3, 4, 8):
        for phase in phase_coefficients(s):
            assert all(abs(sum(row) - 1.0) < 1e-12 for row in phase)


def test_integer_factors():
    assert integer_factors((16, 16), (128, 128)) == (8, 8)
    assert integer_factors((16, 20), (32, 80)) == (2, 4)
    assert integer_factors((86, 43), (171, 86)) is None  # 683-wide images: not a multiple
    assert integer_factors((8, 8), (8, 8)) is None
    with pytest.raises(ValueError, match="multiple"):
        add_upsampled_conv3x3_(torch.zeros(1, 2, 9, 9), torch.zeros(1, 2, 4, 4), torch.zeros(2, 2, 3, 3))


@pytest.mark.parametrize("batch,size", [(1, (32, 48)), (2, (32, 48)), (2, (30, 43))])
def test_uper_head_bottleneck_equals_concatenation(batch, size):
    """The head's split route (its BatchNorm folded into the level kernels) and the concatenate-then-convolve
    route give the same output, at sizes whose levels are integer fractions of stride 4 and at others (the
    levels of a 683-wide image are 128x171, 64x86, 32x43, 16x22)."""
    torch.manual_seed(0)
    head = randomize_(UPerHead([8, 16, 32, 64], num_classes=5, channels=16)).eval()
    sizes = [size]
    for _ in range(3):
        sizes.append(tuple(math.ceil(s / 2) for s in sizes[-1]))
    features = [torch.randn(batch, c, *sizes[i]) for i, c in enumerate([8, 16, 32, 64])]
    outs = [torch.randn(batch, 16, *sizes[i]) for i in range(4)]
    with torch.no_grad():
        split = head.fpn_bottleneck_block(outs)
        block = head.fpn_bottleneck
        upsampled = torch.cat([outs[0]] + [resize(o, size) for o in outs[1:]], 1)
        concatenated = block.norm_activate(block.conv(upsampled))
        assert split.shape == (batch, 16, *size)
        assert (split - concatenated).abs().max().item() < 1e-5
        assert head(features).shape == (batch, 5, *size)


def test_uper_head_trains_through_the_direct_route_at_other_sizes():
    """With autograd at a size whose levels are not integer fractions, the head concatenates and convolves:
    the same gradients as the plain computation."""
    torch.manual_seed(0)
    head = randomize_(UPerHead([8, 16, 32, 64], num_classes=5, channels=16)).train()
    outs = [torch.randn(2, 16, *s, dtype=torch.float64) for s in [(30, 43), (15, 22), (8, 11), (4, 6)]]
    head = head.double()
    ours = head.fpn_bottleneck_block(outs).square().sum()
    grads = torch.autograd.grad(ours, list(head.fpn_bottleneck.parameters()))
    block = head.fpn_bottleneck
    reference = block.norm_activate(block.conv(torch.cat([outs[0]] + [resize(o, (30, 43)) for o in outs[1:]], 1)))
    expected = torch.autograd.grad(reference.square().sum(), list(block.parameters()))
    for g, e in zip(grads, expected):
        assert (g - e).abs().max().item() < 1e-9
