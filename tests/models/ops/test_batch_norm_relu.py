"""batch_norm_relu: nn.BatchNorm2d + ReLU's values, gradients and running statistics, without keeping the output."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from swinseg.models.ops.batch_norm_relu import batch_norm_relu


def _pair(momentum: float | None) -> tuple[nn.BatchNorm2d, nn.BatchNorm2d]:
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(6, momentum=momentum).double()
    nn.init.normal_(bn.weight)  # some negative scales: the ReLU's mask then depends on their sign
    nn.init.normal_(bn.bias)
    reference = nn.BatchNorm2d(6, momentum=momentum).double()
    reference.load_state_dict(bn.state_dict())
    return bn, reference


@pytest.mark.parametrize("momentum", [0.1, None])
def test_matches_batchnorm_and_relu(momentum):
    bn, reference = _pair(momentum)
    x = torch.randn(3, 6, 5, 7, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, 6, 5, 7, dtype=torch.float64)
    for _ in range(2):  # the running statistics move the same way, step after step
        got = batch_norm_relu(x, bn)
        expected = torch.relu(reference(x))
        assert got.grad_fn is not None and "BatchNormReLU" in type(got.grad_fn).__name__
        assert torch.equal(got, expected)
        params, ref_params = [x, bn.weight, bn.bias], [x, reference.weight, reference.bias]
        grads = torch.autograd.grad(got, params, upstream)
        for g, e in zip(grads, torch.autograd.grad(expected, ref_params, upstream)):
            assert (g - e).abs().max() < 1e-12
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            assert torch.equal(getattr(bn, name), getattr(reference, name)), name
    assert 0.2 < (got > 0).double().mean() < 0.8  # the mask mattered


def test_keeps_the_input_not_the_output():
    bn, _ = _pair(0.1)
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = batch_norm_relu(x, bn)
    maps = [t for t in saved if t.shape == x.shape]
    assert len(maps) == 1 and maps[0].data_ptr() == x.data_ptr()
    assert out.data_ptr() not in [t.data_ptr() for t in saved]


def test_other_modes_take_the_plain_path():
    bn, reference = _pair(0.1)
    x = torch.randn(2, 6, 4, 4, dtype=torch.float64)
    bn.eval(), reference.eval()
    assert torch.equal(batch_norm_relu(x, bn), torch.relu(reference(x)))
    bn.train()
    with torch.no_grad():
        assert batch_norm_relu(x, bn).grad_fn is None
    assert bn.num_batches_tracked.item() == 1  # counted once, by nn.BatchNorm2d itself
