"""Checkpoint formats, safe reading, strict loading and swinseg's own checkpoint file."""

from swinseg.weights.io import CheckpointError, convert_checkpoint, load_model, read_checkpoint, save_checkpoint

__all__ = ["CheckpointError", "convert_checkpoint", "load_model", "read_checkpoint", "save_checkpoint"]
