"""Writing swinseg's own checkpoint file, and converting any supported checkpoint into one.

A swinseg checkpoint is one ``.safetensors`` file: the model's state dict plus, in the safetensors metadata,
``format = "swinseg"``, ``config`` = the :class:`SegmentorConfig` as JSON and, when known, ``classes`` (names and
palette), ``inference`` (the :class:`InferenceConfig` it is evaluated with) and ``run_config`` (the whole
resolved training config), so that evaluating or predicting needs only the checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save as safetensors_bytes

from swinseg.checkpoints.loading import LoadedCheckpoint, load_checkpoint
from swinseg.checkpoints.reading import CheckpointError
from swinseg.core.atomic_write import atomic_write_stream
from swinseg.data.classes import ClassInfo
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig, SwinsegModel

__all__ = ["convert_checkpoint", "save_checkpoint"]


def save_checkpoint(
    model: SwinsegModel,
    path: str | os.PathLike,
    overwrite: bool = False,
    classes: ClassInfo | None = None,
    run_config: dict | None = None,
    inference: InferenceConfig | None = None,
) -> Path:
    """Write a model that swinseg built (its ``config`` says what it is) as a swinseg checkpoint, atomically,
    with the classes, training recipe and inference settings given (each left out when None)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: a swinseg checkpoint must end in .safetensors")
    if path.exists() and not overwrite:
        raise CheckpointError(f"{path}: exists already (pass overwrite=True / --overwrite to replace it)")
    config = model.config
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": "swinseg", "config": json.dumps(config.to_dict())}
    if classes is not None:
        if len(classes) != config.num_classes:
            raise CheckpointError(f"{path}: {len(classes)} class names for a {config.num_classes}-class model")
        metadata["classes"] = json.dumps(classes.to_dict())
    if run_config is not None:
        metadata["run_config"] = json.dumps(run_config)
    if inference is not None:
        metadata["inference"] = json.dumps(inference.to_dict())
    # Serialised in memory, then written by Python: a full disk is then an OSError naming the file (safetensors'
    # own file writer reports it as a SafetensorError); the cost is one more copy of the weights in RAM.
    data = safetensors_bytes(tensors, metadata=metadata)
    atomic_write_stream(path, lambda f: f.write(data), overwrite=True)
    return path


def convert_checkpoint(
    src: str | os.PathLike, dst: str | os.PathLike, config: SegmentorConfig | None = None, overwrite: bool = False
) -> tuple[Path, LoadedCheckpoint]:
    """Any supported checkpoint -> swinseg checkpoint (safetensors weights, the model config, and the classes,
    recipe and inference settings it carries or their defaults)."""
    dst = Path(dst)
    if dst.exists() and not overwrite:  # fail before the (slow) conversion
        raise CheckpointError(f"{dst}: exists already (pass --overwrite to replace it)")
    loaded = load_checkpoint(src, config)
    path = save_checkpoint(loaded.model, dst, overwrite, loaded.classes, loaded.recipe, loaded.inference)
    return path, loaded
