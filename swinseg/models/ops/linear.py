"""A Linear layer (optionally followed by the exact GELU) run by oneDNN's matmul on the CPU at inference.

PyTorch runs an fp32 ``nn.Linear`` on the CPU through MKL's sgemm, then the GELU as a separate pass over the
(4x wide) hidden activations. oneDNN (in every x86 build of PyTorch, the library its CPU convolutions use)
computes the same product and can apply the GELU to each output tile while it is still in cache. On the 2-vCPU
AMD EPYC Zen 4 (AVX-512) this made the Swin-T encoder's Linear layers about 10 % faster and the GELU free: the
U-Net Swin-T at 512x512 went from 0.84 s to 0.75 s per image (``benchmarks/speed_targets.py`` records it per
chip). The result is the same up to float rounding (1e-8 on the logits).

The oneDNN path is taken only where it is a pure speed-up: fp32 tensors on the CPU, a plain ``nn.Linear``,
nothing asking for gradients, no autocast (its dtype casts apply to ``F.linear`` only), and not while the model is
traced, scripted or exported (those see ``F.linear``). Under ``torch.compile`` (``--backend compile``) the same
call is the custom op ``swinseg::linear_pointwise``, which inductor keeps as one opaque kernel between the
elementwise work it fuses (otherwise it would lower the products and the GELU its own way, apart).
``torch.backends.mkldnn.flags(enabled=False)`` turns it off like every other oneDNN kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["linear", "linear_pointwise", "onednn_linear_usable"]


# whether this PyTorch build has oneDNN's fused linear; a constant, so that torch.compile reads it without tracing
_ONEDNN_LINEAR_BUILT = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def onednn_linear_usable(x: torch.Tensor, layer: nn.Module) -> bool:
    """Whether :func:`linear` runs ``layer`` on ``x`` with oneDNN (see the module docstring for when)."""
    if type(layer) is not nn.Linear or x.device.type != "cpu":
        return False
    if x.dtype != torch.float32 or layer.weight.dtype != torch.float32:
        return False
    if torch.is_grad_enabled() and (x.requires_grad or layer.weight.requires_grad):
        return False
    if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_exporting():
        return False
    if torch.is_autocast_enabled("cpu"):
        return False
    return torch.backends.mkldnn.enabled and _ONEDNN_LINEAR_BUILT


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, gelu: bool) -> torch.Tensor:
    attr, algorithm = ("gelu", "none") if gelu else ("none", "")
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, attr, [], algorithm)


@torch.library.custom_op("swinseg::linear_pointwise", mutates_args=())
def linear_pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, gelu: bool) -> torch.Tensor:
    """(..., in) -> (..., out): ``x @ weight.T + bias``, then the exact GELU if ``gelu``, in one oneDNN call
    (inference only: the op has no backward)."""
    return _onednn_linear(x, weight, bias, gelu)


@linear_pointwise.register_fake
def _linear_pointwise_shape(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                            gelu: bool) -> torch.Tensor:  # fmt: skip
    return x.new_empty((*x.shape[:-1], weight.shape[0]))


def linear(x: torch.Tensor, layer: nn.Module, gelu: bool = False) -> torch.Tensor:
    """``layer(x)``, then the exact GELU if ``gelu``; by oneDNN with the GELU fused where that is usable.

    ``layer`` may be any module mapping (..., in) to (..., out) (a dynamically quantised Linear, say); only a
    plain ``nn.Linear`` takes the oneDNN path."""
    if onednn_linear_usable(x, layer):
        if torch.compiler.is_compiling():  # one opaque op in the compiled graph (see the module docstring)
            return linear_pointwise(x, layer.weight, layer.bias, gelu)
        return _onednn_linear(x, layer.weight, layer.bias, gelu)
    y = layer(x)
    return F.gelu(y) if gelu else y
