"""The one bilinear resize and the weights it is applied with as matrices or as four source pixels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from swinseg.models.ops.resize import (
    bilinear_sources,
    interpolation_matrix,
    resize,
    rows_read,
)


@pytest.mark.parametrize("src,dst", [(16, 64), (17, 40), (40, 17), (5, 5), (1, 9), (128, 683)])
def test_matrix_and_sources_reproduce_f_interpolate_along_one_axis(src, dst):
    x = torch.randn(3, src, dtype=torch.float64)
    expected = F.interpolate(x[None, :, :, None], size=(dst, 1), mode="bilinear", align_corners=False)[0, :, :, 0]
    matrix = interpolation_matrix(src, dst, torch.float64)
    assert torch.allclose(x @ matrix.T, expected, atol=1e-12)
    first, second, weight = bilinear_sources(src, dst)  # float32 weights: compared with float32 resizing
    assert ((second == first) | (second == first + 1)).all() and ((weight >= 0) & (weight < 1)).all()
    x32 = x.float()
    expected32 = F.interpolate(x32[None, :, :, None], size=(dst, 1), mode="bilinear", align_corners=False)[0, :, :, 0]
    recomposed = x32[:, first] * (1 - weight) + x32[:, second] * weight
    assert torch.allclose(recomposed, expected32, atol=1e-6)


def test_resize_is_the_identity_at_the_same_size_and_rows_read_spans_the_sources():
    x = torch.randn(1, 2, 8, 8)
    assert resize(x, (8, 8)) is x
    assert torch.equal(resize(x, (16, 4)), F.interpolate(x, size=(16, 4), mode="bilinear", align_corners=False))
    ry = interpolation_matrix(8, 32)
    lo, hi = rows_read(ry[10:14])
    assert ry[10:14, :lo].abs().sum() == 0 and ry[10:14, hi:].abs().sum() == 0 and ry[10:14, lo].abs().sum() > 0
