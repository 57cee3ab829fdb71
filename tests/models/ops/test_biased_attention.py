"""biased_attention: softmax attention with a learned bias (and a constant per-window mask), the values and
gradients of F.scaled_dot_product_attention, without keeping the attention weights for backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from swinseg.models.ops.biased_attention import biased_attention

B, HEADS, N, D = 3, 2, 9, 5


def _inputs(windows: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    sequences = B * max(windows, 1)
    # laid out as the Swin block's qkv projection: (S, N, 3, heads, d) -> (3, S, heads, N, d)
    qkv = torch.randn(sequences, N, 3, HEADS, D, dtype=dtype).permute(2, 0, 3, 1, 4).requires_grad_()
    bias = torch.randn(1, HEADS, N, N, dtype=dtype, requires_grad=True)
    mask = torch.where(torch.rand(windows, 1, N, N) < 0.3, -100.0, 0.0).to(dtype) if windows else None
    return qkv, bias, mask


def _reference(qkv: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    attn_mask = bias if mask is None else (bias + mask).repeat(B, 1, 1, 1)  # image by image, window by window
    return F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attn_mask)


@pytest.mark.parametrize("windows", [0, 1, 4])
def test_values_and_gradients_match_sdpa(windows):
    qkv, bias, mask = _inputs(windows)
    upstream = torch.randn(B * max(windows, 1), HEADS, N, D, dtype=torch.float64)
    got = biased_attention(qkv, bias, mask)
    assert "BiasedAttention" in type(got.grad_fn).__name__
    expected = _reference(qkv, bias, mask)
    assert (got - expected).abs().max() < 1e-13
    grads = torch.autograd.grad(got, (qkv, bias), upstream)
    for g, e in zip(grads, torch.autograd.grad(expected, (qkv, bias), upstream)):
        assert g.shape == e.shape and (g - e).abs().max() < 1e-12


def test_the_attention_weights_are_not_kept():
    qkv, bias, mask = _inputs(4, torch.float32)
    shapes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: shapes.append(tuple(t.shape)) or t, lambda t: t):
        biased_attention(qkv, bias, mask)
    assert not [s for s in shapes if len(s) == 4 and s[-2:] == (N, N) and s[0] > 4]  # no (S, heads, N, N)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: shapes.append(tuple(t.shape)) or t, lambda t: t):
        _reference(qkv, bias, mask)
    assert (B * 4, HEADS, N, N) in shapes  # what SDPA's math path keeps


def test_without_gradients_it_is_the_plain_call():
    qkv, bias, mask = _inputs(4, torch.float32)
    with torch.no_grad():
        got = biased_attention(qkv, bias, mask)
        assert got.grad_fn is None
        assert torch.allclose(got, _reference(qkv, bias, mask), atol=1e-6)
