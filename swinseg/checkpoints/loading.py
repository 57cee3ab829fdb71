"""Loading any supported checkpoint into a ready model, strictly: every tensor by name and shape.

:func:`load_checkpoint` gives a :class:`LoadedCheckpoint`: the model and everything the file says about it (its
config, classes, inference settings, training recipe, source format, the tensors dropped on conversion).
:func:`load_model` gives just the model, for scripts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from swinseg.checkpoints.architecture import (
    infer_segmentor_config,
    infer_smp_config,
    infer_swin_config,
)
from swinseg.checkpoints.formats import CONVERTERS, ENCODER_ONLY_FORMATS
from swinseg.checkpoints.reading import CheckpointError, RawCheckpoint, read_checkpoint
from swinseg.core.processes import pick_device
from swinseg.data.classes import ClassInfo, default_classes
from swinseg.data.config import DataConfig
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig, SwinsegModel, build_model
from swinseg.models.swin import resize_relative_position_bias_table

__all__ = ["LoadedCheckpoint", "load_checkpoint", "load_model", "load_state_dict_strict", "resolve_checkpoint"]


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A model ready for inference and what its checkpoint says about it.

    classes: the names and palette the file carries, else the defaults for its number of classes (ADE20K's 150).
    data: the recipe's data settings (test scale, crop, ignore index, reduce_zero_label), else ADE20K's.
    inference: how to run it (mode, crop, stride, TTA), resolved with ``data.crop_size``.
    recipe: the whole training config (``TrainConfig.to_dict()``) of a swinseg checkpoint trained by swinseg.
    source_format: the format detected (``swinseg``, ``mmseg``, ``hf-upernet``, ...; see ``formats.py``).
    dropped_keys: tensors the format carries that swinseg does not need (a classifier head, derived buffers).
    """

    model: SwinsegModel
    path: Path
    config: SegmentorConfig
    classes: ClassInfo
    data: DataConfig
    inference: InferenceConfig
    recipe: dict | None
    source_format: str
    dropped_keys: tuple[str, ...]


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint path as given, or a training run directory's ``best.safetensors``."""
    path = Path(path)
    if path.is_dir() and (path / "best.safetensors").is_file():
        return path / "best.safetensors"
    if path.is_dir() and (path / "config.yaml").is_file():
        raise CheckpointError(f"{path}: training run without best.safetensors yet (it is written at each evaluation)")
    return path


# ----------------------------------------------------------------------------------------------------------
# Strict loading
# ----------------------------------------------------------------------------------------------------------


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def _listing(names: list[str], limit: int = 6) -> str:
    more = f", ... {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def load_state_dict_strict(
    model: nn.Module, state_dict: dict[str, torch.Tensor], source: str, optional_prefixes: tuple[str, ...] = ()
) -> None:
    """Load every tensor by name and shape; report all missing, unexpected and mis-shaped ones in one error.

    Relative position bias tables of another window size are resized (bicubic). Names starting with one of
    ``optional_prefixes`` (and BatchNorm ``num_batches_tracked`` counters) may be absent and keep their
    initial values.
    """
    model_sd = model.state_dict()
    state_dict = dict(state_dict)
    for k, v in state_dict.items():
        if k.endswith("relative_position_bias_table") and k in model_sd and v.shape != model_sd[k].shape:
            if v.shape[1] == model_sd[k].shape[1]:  # same heads, other window size
                window = (math.isqrt(model_sd[k].shape[0]) + 1) // 2
                state_dict[k] = resize_relative_position_bias_table(v, window)
    missing = [
        k
        for k in model_sd
        if k not in state_dict and not k.startswith(optional_prefixes) and not k.endswith("num_batches_tracked")
    ]
    unexpected = [k for k in state_dict if k not in model_sd]
    mismatched = [
        f"{k} ({_shape(v)} in file, {_shape(model_sd[k])} in model)"
        for k, v in state_dict.items()
        if k in model_sd and v.shape != model_sd[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing ({_listing(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected ({_listing(unexpected)})")
    if mismatched:
        problems.append(f"{len(mismatched)} mis-shaped ({_listing(mismatched)})")
    if problems:
        raise CheckpointError(f"{source}: weights do not fit the model: " + "; ".join(problems))
    merged = {**model_sd, **{k: v.to(model_sd[k].dtype) for k, v in state_dict.items()}}
    model.load_state_dict(merged, strict=True)


# ----------------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------------


def _weights_and_config(raw: RawCheckpoint) -> tuple[dict[str, torch.Tensor], SegmentorConfig, tuple[str, ...], list[str]]:
    """(state dict in swinseg names, the config read off the file, optional prefixes, dropped keys)."""
    if raw.format == "swinseg":
        return raw.state_dict, raw.swinseg_config, (), []
    source = f"{raw.path} ({raw.format})"
    try:
        state_dict, dropped = CONVERTERS[raw.format](raw.state_dict)
        if raw.format in ENCODER_ONLY_FORMATS:
            encoder = infer_swin_config(state_dict, "backbone.", out_norms=True)
            optional = ("decode_head.", "auxiliary_head.", "backbone.out_norms.")
            return state_dict, SegmentorConfig(encoder=encoder), optional, dropped
        if raw.format == "smp":
            return state_dict, infer_smp_config(state_dict, raw.config_json), (), dropped
        return state_dict, infer_segmentor_config(state_dict), (), dropped
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{source}: cannot read the architecture off the weights ({e})") from e


def load_checkpoint(
    path: str | os.PathLike,
    config: SegmentorConfig | None = None,
    data: DataConfig | None = None,
    inference: InferenceConfig | None = None,
    recipe: dict | None = None,
    device: str | torch.device = "cpu",
) -> LoadedCheckpoint:
    """A ready model (eval mode, on ``device``: ``auto`` is CUDA when there is one) from a checkpoint in any supported format (see
    :mod:`swinseg.checkpoints.formats`), or a training run directory's ``best.safetensors``.

    Without ``config`` the architecture is read off the weights (and config.json for smp). Encoder-only
    checkpoints (ImageNet: microsoft, timm, mmseg-pretrain) initialise the encoder of ``config`` (by default
    Swin + UPerNet for the 150 ADE20K classes); its decode heads and its output norms, which those
    checkpoints lack, keep their initialisation. A ``config`` with another window size than the weights gets
    resized relative position bias tables.

    ``data``, ``inference`` and ``recipe`` (a training config's, to give a foreign checkpoint another recipe)
    take the place of what the file carries; without them, a swinseg checkpoint's own are used, else ADE20K's.
    """
    raw = read_checkpoint(resolve_checkpoint(path))
    state_dict, inferred, optional, dropped = _weights_and_config(raw)
    if config is None:
        config = inferred
    elif raw.format in ENCODER_ONLY_FORMATS and config.decoder.startswith("smp:"):
        state_dict = {"encoder." + k.removeprefix("backbone."): v for k, v in state_dict.items()}
        optional = ("decoder.", "segmentation_head.", "classification_head.", "encoder.out_norms.")
    model = build_model(config)
    load_state_dict_strict(model, state_dict, f"{raw.path} ({raw.format})", optional)
    recipe = recipe if recipe is not None else raw.run_config
    if data is None:
        data = DataConfig.from_dict(recipe["data"]) if recipe is not None and "data" in recipe else DataConfig()
    inference = inference or raw.inference or InferenceConfig()
    return LoadedCheckpoint(
        model=model.to(pick_device(str(device))).eval(),
        path=raw.path,
        config=config,
        classes=raw.classes if raw.classes is not None else default_classes(config.num_classes),
        data=data,
        inference=inference.resolve(data.crop_size),
        recipe=recipe,
        source_format=raw.format,
        dropped_keys=tuple(dropped),
    )


def load_model(
    path: str | os.PathLike, config: SegmentorConfig | None = None, device: str | torch.device = "cpu"
) -> SwinsegModel:
    """The model alone of :func:`load_checkpoint`: ready, in eval mode, on ``device``."""
    return load_checkpoint(path, config, device=device).model
