"""How a model runs at test time: the ``--backend`` of ``swinseg predict``, ``eval`` and ``benchmark``.

    eager    fp32 PyTorch, the reference every other backend is measured against (the default)
    bf16     bfloat16 autocast: matrix products and convolutions in bfloat16, the rest (LayerNorm, softmax)
             in fp32, logits returned as fp32. Fast where the CPU multiplies bfloat16 natively (AVX-512 BF16, AMX:
             AMD Zen 4 and later, Intel Sapphire Rapids and later); elsewhere oneDNN emulates it, slower than fp32.
    int8     the encoder's Linear layers dynamically quantised (weights int8 per tensor, activations quantised
             on the fly; ``torch.ao.quantization.quantize_dynamic``, fbgemm kernels); the head stays fp32.
    compile  fp32, ``forward`` and ``head_logits`` compiled by ``torch.compile`` (inductor; on the CPU it writes C++
             and builds it with the system's compiler, gcc). Every new image size compiles the model again
             (static shapes: with ``dynamic=True`` inductor's symbolic sizes kept even the toy model in sympy for
             over five minutes), up to dynamo's recompile limit (8 sizes), after which that function runs eager.
             So it suits inputs of one size: sliding windows, or images resized to one size. Inductor caches
             what it builds on disk (``TORCHINDUCTOR_CACHE_DIR``, by default under the temporary directory):
             the next process compiles the same model and size from that cache.

What each costs in accuracy and gains in speed on a given chip is measured by ``benchmarks/speed_targets.py``
(``--targets 6``) and written in the README; :func:`prepare_backend` only builds the model that runs. Every backend
returns a module with the model's interface: ``forward`` (logits at the input size, fp32), ``head_logits`` and
``config``, so that ``predict_images`` and ``evaluate_images`` take it as they take the model.
"""

from __future__ import annotations

import copy
import logging
import warnings

import torch
from torch import nn

from swinseg.core.processes import cpu_has_native_bf16
from swinseg.models.segmentor import SwinsegModel

__all__ = ["BACKENDS", "AutocastModel", "CompiledModel", "cpu_has_native_bf16", "prepare_backend", "quantize_int8"]

BACKENDS = ("eager", "bf16", "int8", "compile")


class _Wrapped(nn.Module):
    """A model behind another way of running it; ``config`` and the parameters (device) are the model's."""

    def __init__(self, model: SwinsegModel):
        super().__init__()
        self.model = model
        self.config = model.config

    def train(self, mode: bool = True) -> _Wrapped:
        if mode:
            raise ValueError(f"{type(self).__name__} is for inference only")
        return super().train(False)


class AutocastModel(_Wrapped):
    """The model under ``torch.autocast(dtype)``; logits come back as fp32."""

    def __init__(self, model: SwinsegModel, dtype: torch.dtype = torch.bfloat16):
        super().__init__(model)
        self.dtype = dtype

    def _device_type(self) -> str:
        return next(self.model.parameters()).device.type

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self._device_type(), dtype=self.dtype):
            return self.model(images).float()

    def head_logits(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self._device_type(), dtype=self.dtype):
            return self.model.head_logits(images).float()


def _import_cpp_extension_quietly() -> None:
    """Import ``torch.utils.cpp_extension`` (inductor's C++ build does) with its import-time warning about a
    missing CUDA runtime silenced: on a CPU-only machine it is noise in every ``--backend compile`` run."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import torch.utils.cpp_extension  # noqa: F401
    finally:
        logger.setLevel(level)


class CompiledModel(_Wrapped):
    """The model's ``forward`` and ``head_logits``, each compiled by ``torch.compile`` on first use (fp32)."""

    def __init__(self, model: SwinsegModel):
        super().__init__(model)
        _import_cpp_extension_quietly()
        self._forward = torch.compile(model.forward, dynamic=False)
        self._head_logits = torch.compile(model.head_logits, dynamic=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self._forward(images)

    def head_logits(self, images: torch.Tensor) -> torch.Tensor:
        return self._head_logits(images)


def quantize_int8(model: SwinsegModel) -> SwinsegModel:
    """A copy of ``model`` whose encoder Linear layers are dynamically quantised to int8 (CPU only)."""
    if next(model.parameters()).device.type != "cpu":
        raise ValueError("backend int8: dynamic quantisation runs on the CPU only (use --device cpu)")
    quantized = copy.deepcopy(model).eval()
    # Segmentor keeps the encoder as .backbone; SmpSegmentor as .model.encoder (smp's layout)
    owner, name = (quantized, "backbone") if hasattr(quantized, "backbone") else (quantized.model, "encoder")
    with warnings.catch_warnings():  # torch.ao's eager quantisation announces its move to torchao
        warnings.simplefilter("ignore")
        setattr(owner, name, torch.ao.quantization.quantize_dynamic(getattr(owner, name), {nn.Linear}, torch.qint8))
    return quantized


def prepare_backend(model: SwinsegModel, backend: str) -> nn.Module:
    """``model`` (in eval mode, on its device) made ready to run as ``backend`` (one of :data:`BACKENDS`)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    model.eval()
    if backend == "eager":
        return model
    if backend == "bf16":
        return AutocastModel(model, torch.bfloat16).eval()
    if backend == "compile":
        return CompiledModel(model).eval()
    return quantize_int8(model)
