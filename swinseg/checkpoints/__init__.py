"""Checkpoints: the seven formats swinseg reads, safe reading, strict loading, swinseg's own file and the
resumable training state.

- ``formats``: detecting a checkpoint's format and converting its names to swinseg's.
- ``reading``: a file or model directory -> tensors + format (+ the configs a swinseg checkpoint carries).
- ``architecture``: the model config read off the weights.
- ``loading``: :func:`load_checkpoint` (a :class:`LoadedCheckpoint`) and :func:`load_model` (the model alone).
- ``saving``: :func:`save_checkpoint` and :func:`convert_checkpoint`.
- ``training_state``: ``last.pt``, everything needed to resume a run exactly.
"""

from swinseg.checkpoints.loading import (
    LoadedCheckpoint,
    load_checkpoint,
    load_model,
    resolve_checkpoint,
)
from swinseg.checkpoints.reading import CheckpointError, read_checkpoint
from swinseg.checkpoints.saving import convert_checkpoint, save_checkpoint

__all__ = [
    "CheckpointError",
    "LoadedCheckpoint",
    "convert_checkpoint",
    "load_checkpoint",
    "load_model",
    "read_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
]
