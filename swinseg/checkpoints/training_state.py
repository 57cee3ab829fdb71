"""Training checkpoints: everything needed to continue a run exactly where it stopped.

``last.pt`` holds model, optimizer, scheduler and grad-scaler states, the iteration (which fixes the data-order
position, see :mod:`swinseg.training.distributed`), the RNG states of every process, the best validation mIoU so
far and the resolved config as JSON. It is plain tensors and Python values, written atomically (temp file +
rename) and read back with ``torch.load(weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from swinseg.core.atomic_write import atomic_write_stream
from swinseg.core.errors import first_line

__all__ = ["load_training_state", "restore_rng_state", "rng_state", "save_training_state"]


def rng_state() -> dict:
    """This process's torch (CPU and CUDA), numpy and Python RNG states, as tensors and tuples."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
    }


def restore_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))


def save_training_state(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically, replacing the previous checkpoint only once the new one is whole."""
    return atomic_write_stream(Path(path), lambda f: torch.save(state, f), overwrite=True)


def load_training_state(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a readable swinseg training checkpoint ({first_line(e)})") from e
