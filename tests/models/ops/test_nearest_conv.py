"""nearest2x_conv3x3: conv3x3(nearest 2x upsampling of x) computed on the coarse grid, borders included."""

import pytest
import torch
import torch.nn.functional as F

from swinseg.models.ops.nearest_conv import add_nearest2x_conv3x3_, nearest2x_conv3x3, phase_kernels


def _direct(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, padding=1)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(("h", "w"), [(1, 1), (3, 5), (8, 8)])
def test_equals_upsampling_then_convolving(h: int, w: int, channels_last: bool) -> None:
    torch.manual_seed(0)
    x, weight = torch.randn(2, 6, h, w), torch.randn(4, 6, 3, 3)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    got = nearest2x_conv3x3(x, phase_kernels(weight))
    if channels_last:
        assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, _direct(x, weight), rtol=1e-5, atol=1e-5)


def test_the_bias_is_added_to_every_phase() -> None:
    torch.manual_seed(2)
    x, weight, bias = torch.randn(1, 3, 3, 4), torch.randn(5, 3, 3, 3), torch.randn(5)
    got = nearest2x_conv3x3(x, phase_kernels(weight), bias)
    torch.testing.assert_close(got, _direct(x, weight) + bias.view(1, -1, 1, 1), rtol=1e-5, atol=1e-5)


def test_gradients_flow_through_the_phases() -> None:
    """The output is assembled by copies into views of an empty tensor: autograd sees every phase."""
    torch.manual_seed(3)
    x, weight = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True), torch.randn(3, 2, 3, 3)
    weight = weight.double().requires_grad_()
    torch.autograd.gradcheck(lambda a, w: nearest2x_conv3x3(a, phase_kernels(w)), (x, weight))


def test_adds_into_the_output() -> None:
    torch.manual_seed(1)
    x, weight, base = torch.randn(1, 3, 4, 6), torch.randn(2, 3, 3, 3), torch.randn(1, 2, 8, 12)
    got = add_nearest2x_conv3x3_(base.clone(), x, phase_kernels(weight))
    torch.testing.assert_close(got, base + _direct(x, weight), rtol=1e-5, atol=1e-5)


def test_phase_kernels_sum_the_taps_each_phase_reads() -> None:
    weight = torch.arange(9.0).view(1, 1, 3, 3)  # rows [0 1 2], [3 4 5], [6 7 8]
    k = phase_kernels(weight)
    assert k.shape == (4, 1, 2, 2)
    # phase (0, 0): coarse rows (-1, 0) read kernel rows (0), (1 + 2); columns likewise
    assert k[0, 0].tolist() == [[0.0, 1 + 2], [3 + 6, 4 + 5 + 7 + 8]]
    # phase (1, 1): rows (0, +1) read (0 + 1), (2)
    assert k[3, 0].tolist() == [[0 + 1 + 3 + 4, 2 + 5], [6 + 7, 8]]


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="phase kernels"):
        add_nearest2x_conv3x3_(torch.zeros(1, 2, 8, 8), torch.zeros(1, 3, 4, 4), torch.zeros(8, 3, 3, 3))
    with pytest.raises(ValueError, match="output"):
        add_nearest2x_conv3x3_(torch.zeros(1, 2, 8, 9), torch.zeros(1, 3, 4, 4), torch.zeros(8, 3, 2, 2))
