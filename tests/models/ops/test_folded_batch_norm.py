"""fold_batch_norm: a convolution then an evaluation-mode BatchNorm equals one convolution with the folded
weight and bias; foldable says when that applies."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from swinseg.models.ops.folded_batch_norm import fold_batch_norm, foldable


def _norm(channels: int, affine: bool) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(channels, eps=1e-3, affine=affine).double().eval()
    norm.running_mean.uniform_(-1, 1)
    norm.running_var.uniform_(0.2, 3)
    if affine:
        nn.init.uniform_(norm.weight, -2, 2), nn.init.uniform_(norm.bias, -1, 1)
    return norm


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_one_convolution_computes_both(affine: bool, with_bias: bool) -> None:
    torch.manual_seed(0)
    x, weight = torch.randn(2, 3, 7, 5, dtype=torch.float64), torch.randn(4, 3, 3, 3, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64) if with_bias else None
    norm = _norm(4, affine)
    folded_weight, folded_bias = fold_batch_norm(weight, bias, norm)
    with torch.no_grad():
        want = norm(F.conv2d(x, weight, bias, padding=1))
    torch.testing.assert_close(F.conv2d(x, folded_weight, folded_bias, padding=1), want, rtol=1e-12, atol=1e-12)


def test_the_weights_memory_format_is_kept() -> None:
    weight = torch.randn(4, 3, 3, 3).contiguous(memory_format=torch.channels_last)
    folded, _ = fold_batch_norm(weight, None, nn.BatchNorm2d(4).eval())
    assert folded.is_contiguous(memory_format=torch.channels_last)


def test_foldable_only_in_evaluation_without_autograd() -> None:
    norm = nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        assert foldable(norm)
        assert not foldable(nn.BatchNorm2d(4).train())  # batch statistics
        assert not foldable(nn.BatchNorm2d(4, track_running_stats=False).eval())  # batch statistics too
        assert not foldable(nn.SyncBatchNorm(4).eval())  # not a plain BatchNorm2d
        assert not foldable(nn.Identity())
    assert not foldable(norm)  # gradients are being recorded
