"""gelu_linear: the same values and gradients as linear(gelu(h)), keeping only h for backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from swinseg.models.ops.gelu_linear import gelu_linear


@pytest.mark.parametrize("shape", [(5, 12), (2, 3, 4, 12)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_values_and_gradients_match_the_plain_expression(shape, with_bias):
    torch.manual_seed(0)
    hidden = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(7, 12, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(7, dtype=torch.float64, requires_grad=True) if with_bias else None
    upstream = torch.randn(*shape[:-1], 7, dtype=torch.float64)
    inputs = [t for t in (hidden, weight, bias) if t is not None]
    expected = F.linear(F.gelu(hidden), weight, bias)
    got = gelu_linear(hidden, weight, bias)
    assert torch.allclose(got, expected, atol=1e-14)
    for g, e in zip(torch.autograd.grad(got, inputs, upstream), torch.autograd.grad(expected, inputs, upstream)):
        assert (g - e).abs().max() < 1e-12


def test_only_the_gelu_input_is_kept():
    hidden = torch.randn(64, 48, requires_grad=True)
    weight = torch.randn(12, 48, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.shape) or t, lambda t: t):
        F.linear(F.gelu(hidden), weight)
    assert saved.count((64, 48)) == 2  # autograd keeps GELU's input and its output
    out = gelu_linear(hidden, weight, None)
    assert [t.shape for t in out.grad_fn.saved_tensors] == [(64, 48), (12, 48)]


def test_frozen_weights_and_no_grad():
    hidden = torch.randn(4, 8, requires_grad=True)
    weight, bias = torch.randn(3, 8), torch.randn(3)  # no gradients wanted for them
    (grad,) = torch.autograd.grad(gelu_linear(hidden, weight, bias).sum(), hidden)
    (expected,) = torch.autograd.grad(F.linear(F.gelu(hidden), weight, bias).sum(), hidden)
    assert torch.allclose(grad, expected, atol=1e-6)
    with torch.no_grad():
        assert gelu_linear(hidden, weight, bias).grad_fn is None
