"""A Linear layer (optionally followed by the exact GELU) run by oneDNN's matmul on the CPU at inference.

PyTorch runs an fp32 ``nn.Linear`` on the CPU through MKL's sgemm, then the GELU as a separate pass over the
(4x wide) hidden activations. oneDNN (in every x86 build of PyTorch, the library its CPU convolutions use)
computes the same product and can apply the GELU to each output tile while it is still in cache. On the 2-vCPU
AMD EPYC Zen 4 (AVX-512) this made the Swin-T encoder's Linear layers about 10 % faster and the GELU free: the
U-Net Swin-T at 512x512 went from 0.84 s to 0.75 s per image (``benchmarks/speed_targets.py`` records it per
chip). The result is the same up to float rounding (1e-8 on the logits).

The oneDNN path is taken only where it is a pure speed-up: fp32 tensors on the CPU, a plain ``nn.Linear``,
nothing asking for gradients, no autocast (its dtype casts apply to ``F.linear`` only), and not while the model is
traced, scripted, compiled or exported (those see ``F.linear`` and do their own fusion).
``torch.backends.mkldnn.flags(enabled=False)`` turns it off like every other oneDNN kernel.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["linear", "onednn_linear_usable"]


@lru_cache(maxsize=1)
def _onednn_linear_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def onednn_linear_usable(x: torch.Tensor, layer: nn.Module) -> bool:
    """Whether :func:`linear` runs ``layer`` on ``x`` with oneDNN (see the module docstring for when)."""
    if type(layer) is not nn.Linear or x.device.type != "cpu":
        return False
    if x.dtype != torch.float32 or layer.weight.dtype != torch.float32:
        return False
    if torch.is_grad_enabled() and (x.requires_grad or layer.weight.requires_grad):
        return False
    if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling():
        return False
    if torch.is_autocast_enabled("cpu"):
        return False
    return torch.backends.mkldnn.enabled and _onednn_linear_available()


def linear(x: torch.Tensor, layer: nn.Module, gelu: bool = False) -> torch.Tensor:
    """``layer(x)``, then the exact GELU if ``gelu``; by oneDNN with the GELU fused where that is usable.

    ``layer`` may be any module mapping (..., in) to (..., out) (a dynamically quantised Linear, say); only a
    plain ``nn.Linear`` takes the oneDNN path."""
    if onednn_linear_usable(x, layer):
        attr, algorithm = ("gelu", "none") if gelu else ("none", "")
        return torch.ops.mkldnn._linear_pointwise(x, layer.weight, layer.bias, attr, [], algorithm)
    y = layer(x)
    return F.gelu(y) if gelu else y
