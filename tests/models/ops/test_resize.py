"""The one bilinear resize and the weights it is applied with as matrices."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from swinseg.models.ops.resize import (
    interpolation_matrix,
    resize,
    rows_read,
)


@pytest.mark.parametrize("src,dst", [(16, 64), (17, 40), (40, 17), (5, 5), (1, 9), (128, 683)])
def test_matrix_reproduces_f_interpolate_along_one_axis(src, dst):
    x = torch.randn(3, src, dtype=torch.float64)
    expected = F.interpolate(x[None, :, :, None], size=(dst, 1), mode="bilinear", align_corners=False)[0, :, :, 0]
    matrix = interpolation_matrix(src, dst, torch.float64)
    assert torch.allclose(x @ matrix.T, expected, atol=1e-12)
    assert ((matrix != 0).sum(1) <= 2).all() and (matrix >= 0).all()  # two taps at most, non-negative weights


def test_resize_is_the_identity_at_the_same_size_and_rows_read_spans_the_sources():
    x = torch.randn(1, 2, 8, 8)
    assert resize(x, (8, 8)) is x
    assert torch.equal(resize(x, (16, 4)), F.interpolate(x, size=(16, 4), mode="bilinear", align_corners=False))
    ry = interpolation_matrix(8, 32)
    lo, hi = rows_read(ry[10:14])
    assert ry[10:14, :lo].abs().sum() == 0 and ry[10:14, hi:].abs().sum() == 0 and ry[10:14, lo].abs().sum() > 0
