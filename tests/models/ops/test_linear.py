"""ops.linear: the values of layer(x) (then GELU), by oneDNN only where that is a pure speed-up."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from swinseg.models.ops.linear import linear, onednn_linear_usable
from swinseg.models.swin import SwinTransformer, swin_config

needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="no oneDNN in this build")


@needs_onednn
@pytest.mark.parametrize("gelu", [False, True])
@pytest.mark.parametrize("shape", [(7, 24), (2, 5, 49, 24)])
def test_values_match_plain_linear(shape: tuple[int, ...], gelu: bool) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(24, 40)
    x = torch.randn(*shape)
    want = F.gelu(layer(x)) if gelu else layer(x)
    with torch.inference_mode():
        assert onednn_linear_usable(x, layer)
        got = linear(x, layer, gelu=gelu)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@needs_onednn
def test_bias_free_layer() -> None:
    layer = nn.Linear(16, 8, bias=False)
    x = torch.randn(3, 16)
    with torch.no_grad():
        torch.testing.assert_close(linear(x, layer), x @ layer.weight.T, rtol=1e-5, atol=1e-6)


def test_plain_path_where_onednn_would_change_something() -> None:
    layer = nn.Linear(8, 4)
    x = torch.randn(2, 8)
    assert not onednn_linear_usable(x, layer)  # autograd wants the weight's gradient
    with torch.no_grad():
        assert not onednn_linear_usable(x.double(), nn.Linear(8, 4).double())  # fp32 only
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not onednn_linear_usable(x, layer)  # autocast casts F.linear's inputs
            assert linear(x, layer).dtype == torch.bfloat16
        with torch.backends.mkldnn.flags(enabled=False):
            assert not onednn_linear_usable(x, layer)
        assert not onednn_linear_usable(x, nn.Sequential(layer))  # not a plain nn.Linear


def test_gradients_flow_through_the_plain_path() -> None:
    layer = nn.Linear(8, 4)
    x = torch.randn(2, 8, requires_grad=True)
    linear(x, layer, gelu=True).sum().backward()
    assert x.grad is not None and layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_swin_features_equal_with_and_without_onednn() -> None:
    torch.manual_seed(0)
    model = SwinTransformer(swin_config("swin_toy", drop_path_rate=0.0)).eval()
    x = torch.randn(1, 3, 72, 88)
    with torch.inference_mode():
        with torch.backends.mkldnn.flags(enabled=False):
            want = model(x)
        got = model(x)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
