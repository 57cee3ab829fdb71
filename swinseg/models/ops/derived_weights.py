"""Tensors derived from a module's weights at inference (folded, rearranged), kept from pass to pass."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

__all__ = ["DerivedWeights"]

T = TypeVar("T")


class DerivedWeights:
    """Tensors computed from a module's weights (folded, rearranged), kept from one pass without autograd to the
    next while the weights they come from are unchanged.

    Sources must be the module's own tensors (``conv.weight``), not views made for the call (``conv.weight[:, :c]``
    is a new tensor object each time): slice inside ``make``. An entry is remade when a source is another tensor
    object or was changed in place (its version counter moves: an optimizer step, ``load_state_dict``, a
    running-statistics update). Under autograd or a compiler, and for sources that are inference tensors (made
    under ``torch.inference_mode``, they have no version counter), it is made afresh each time and not kept. A
    copy (``copy.deepcopy``, pickling) starts empty.
    """

    def __init__(self) -> None:
        # name -> ([(weak reference to a source, its version) ...], the derived value)
        self._entries: dict[str, tuple[list[tuple[weakref.ref, int]], object]] = {}

    def get(self, name: str, sources: Sequence[torch.Tensor | None], make: Callable[[], T]) -> T:
        """``make()``, or the value kept under ``name`` if ``sources`` are the same tensors, unchanged."""
        present = [t for t in sources if t is not None]
        if torch.is_grad_enabled() or torch.compiler.is_compiling() or any(t.is_inference() for t in present):
            return make()
        kept = self._entries.get(name)
        if kept is None or not _same(kept[0], present):
            kept = [(weakref.ref(t), t._version) for t in present], make()
            self._entries[name] = kept
        return kept[1]  # type: ignore[return-value]

    def __reduce__(self) -> tuple:
        return DerivedWeights, ()


def _same(kept: list[tuple[weakref.ref, int]], sources: list[torch.Tensor]) -> bool:
    """Whether ``sources`` are the kept tensors themselves (still alive), at the kept versions."""
    return len(kept) == len(sources) and all(ref() is t and t._version == v for (ref, v), t in zip(kept, sources))
