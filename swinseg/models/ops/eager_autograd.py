"""When the ops' hand-written autograd Functions (``gelu_linear``, ``layer_norm_linear``, ``batch_norm_relu``,
``biased_attention``) replace the plain expressions: autograd is recording, in eager mode, without autocast.

Their backward passes are written for one dtype throughout, so autocast's mixed dtypes take the plain path; so do
tracing, scripting and compiling, whose graphs are the plain expressions'. The two paths compute the same values.
"""

from __future__ import annotations

import torch

__all__ = ["eager_autograd"]


def eager_autograd(device_type: str) -> bool:
    """Whether autograd records in eager mode without autocast on ``device_type`` (``"cpu"``, ``"cuda"`` ...)."""
    if not torch.is_grad_enabled() or torch.is_autocast_enabled(device_type):
        return False
    return not (torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling())
