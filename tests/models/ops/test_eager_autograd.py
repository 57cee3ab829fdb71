"""eager_autograd: the hand-written Functions only where autograd records eagerly, without autocast."""

from __future__ import annotations

import torch

from swinseg.models.ops.eager_autograd import eager_autograd


def test_recording_eagerly():
    assert eager_autograd("cpu")
    with torch.no_grad():
        assert not eager_autograd("cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not eager_autograd("cpu")


def test_not_while_compiling():
    seen = []

    def f(x: torch.Tensor) -> torch.Tensor:
        seen.append(eager_autograd("cpu"))
        return x + 1

    torch.compile(f, backend="eager", fullgraph=True)(torch.ones(2))
    assert seen == [False]
