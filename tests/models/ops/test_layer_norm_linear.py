"""layer_norm_linear: the values and gradients of linear(layer_norm(x)), keeping x but not the normalised x."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from swinseg.models.ops.layer_norm_linear import layer_norm_linear


def _layers(with_bias: bool) -> tuple[nn.LayerNorm, nn.Linear]:
    torch.manual_seed(0)
    norm, layer = nn.LayerNorm(12).double(), nn.Linear(12, 7, bias=with_bias).double()
    nn.init.normal_(norm.weight), nn.init.normal_(norm.bias)  # not the identity
    return norm, layer


@pytest.mark.parametrize("shape", [(5, 12), (2, 3, 4, 12)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_values_and_gradients_match_the_plain_expression(shape, with_bias):
    norm, layer = _layers(with_bias)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True) * 3 + 1
    upstream = torch.randn(*shape[:-1], 7, dtype=torch.float64)
    inputs = [x, norm.weight, norm.bias, layer.weight] + ([layer.bias] if with_bias else [])
    got = layer_norm_linear(x, norm, layer)
    assert "LayerNormLinear" in type(got.grad_fn).__name__
    expected = layer(norm(x))
    assert (got - expected).abs().max() < 1e-13
    for g, e in zip(torch.autograd.grad(got, inputs, upstream), torch.autograd.grad(expected, inputs, upstream)):
        assert (g - e).abs().max() < 1e-12


def test_only_the_input_is_kept():
    norm, layer = _layers(True)
    x = torch.randn(64, 12, dtype=torch.float64, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        layer(norm(x))
    assert [t.shape for t in saved].count((64, 12)) == 2  # autograd keeps x and norm(x)
    out = layer_norm_linear(x, norm, layer)
    kept = [t for t in out.grad_fn.saved_tensors if t.shape == (64, 12)]
    assert len(kept) == 1 and kept[0].data_ptr() == x.data_ptr()


def test_frozen_layers_and_no_grad():
    norm, layer = _layers(True)
    norm.requires_grad_(False), layer.requires_grad_(False)
    x = torch.randn(4, 12, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(layer_norm_linear(x, norm, layer).sum(), x)
    (expected,) = torch.autograd.grad(layer(norm(x)).sum(), x)
    assert (grad - expected).abs().max() < 1e-12
    with torch.no_grad():
        assert layer_norm_linear(x, norm, layer).grad_fn is None
