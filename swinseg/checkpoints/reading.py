"""Reading any supported checkpoint safely: a file or a Hugging Face / smp model directory -> its tensors, its
format and (for swinseg checkpoints) the configs it carries. Nothing is ever unpickled except through
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from swinseg.checkpoints.formats import detect_format
from swinseg.core.errors import first_line
from swinseg.data.classes import ClassInfo
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig

__all__ = ["CheckpointError", "RawCheckpoint", "read_checkpoint"]


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit; the message names the file and the problem."""


@dataclass
class RawCheckpoint:
    path: Path
    state_dict: dict[str, torch.Tensor]
    format: str
    config_json: dict | None = None  # config.json of a Hugging Face / smp directory
    swinseg_config: SegmentorConfig | None = None  # config of a swinseg checkpoint
    classes: ClassInfo | None = None  # class names and palette, when the checkpoint carries them
    run_config: dict | None = None  # the training config (TrainConfig.to_dict()) that produced the weights
    inference: InferenceConfig | None = None  # how the model is run at test time, when the checkpoint says


def _load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and (safetensors) metadata of one file."""
    try:
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, pickled objects that are not plain tensors / containers, ...
        raise CheckpointError(f"{path}: cannot be read safely ({first_line(e)})") from e
    return _unwrap(obj, path), {}


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint object (``state_dict`` / ``model`` / ``module.`` wrappers)."""
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: no state dict found")
    tensors = {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: no tensors found")
    return tensors


def _weights_in_dir(path: Path) -> Path:
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    raise CheckpointError(f"{path}: directory has none of {', '.join(WEIGHT_FILES)}")


def read_checkpoint(path: str | os.PathLike) -> RawCheckpoint:
    """Read a checkpoint file or a Hugging Face / smp model directory and detect its format."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    weights = _weights_in_dir(path) if path.is_dir() else path
    config_file = weights.parent / "config.json"
    state_dict, metadata = _load_tensors(weights)

    if metadata.get("format") == "swinseg":
        try:
            config = SegmentorConfig.from_dict(json.loads(metadata["config"]))
            classes = ClassInfo.from_dict(json.loads(metadata["classes"])) if "classes" in metadata else None
            run_config = json.loads(metadata["run_config"]) if "run_config" in metadata else None
            inference = InferenceConfig.from_dict(json.loads(metadata["inference"])) if "inference" in metadata else None
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"{weights}: swinseg checkpoint with a bad config ({e})") from e
        return RawCheckpoint(weights, state_dict, "swinseg", swinseg_config=config, classes=classes,
                             run_config=run_config, inference=inference)  # fmt: skip

    config_json = json.loads(config_file.read_text()) if config_file.is_file() else None
    try:
        fmt = detect_format(state_dict)
    except ValueError as e:
        raise CheckpointError(f"{weights}: {e}") from None
    if fmt == "smp" and (config_json is None or "_model_class" not in config_json):
        raise CheckpointError(f"{weights}: smp weights need the config.json saved beside them (with _model_class)")
    if fmt == "hf-upernet" and config_json is not None:
        backbone = (config_json.get("backbone_config") or {}).get("model_type", "swin")
        if backbone != "swin":
            raise CheckpointError(f"{config_file}: UperNet backbone {backbone!r} is not supported (only swin)")
    return RawCheckpoint(weights, state_dict, fmt, config_json=config_json)
