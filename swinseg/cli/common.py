"""What several subcommands share: help formatting, finding a checkpoint, and a model ready for inference."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from swinseg.data.classes import ClassInfo, default_classes
from swinseg.data.config import DataConfig
from swinseg.engine.config import TrainConfig, load_train_config, parse_yaml
from swinseg.weights.io import CheckpointError, load_model

__all__ = ["HelpFormatter", "InferenceSetup", "load_for_inference", "parse_overrides", "resolve_checkpoint"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' line breaks and shows every option's default."""


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint path as given, or a training run directory's ``best.safetensors``."""
    path = Path(path)
    if path.is_dir() and (path / "best.safetensors").is_file():
        return path / "best.safetensors"
    if path.is_dir() and (path / "config.yaml").is_file():
        raise CheckpointError(f"{path}: training run without best.safetensors yet (it is written at each evaluation)")
    return path


def parse_overrides(pairs: list[str] | None) -> dict[str, object]:
    """``["optim.lr=1e-4", "data.crop_size=[256,256]"]`` -> ``{"optim.lr": 1e-4, ...}``; values are YAML."""
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected key=value, e.g. optim.lr=1e-4")
        overrides[key.strip()] = parse_yaml(value)
    return overrides


@dataclass
class InferenceSetup:
    """A model in eval mode on its device, with what is needed to feed it and name its outputs."""

    model: nn.Module
    classes: ClassInfo
    data: DataConfig  # scale, crop_size, ignore_index, reduce_zero_label of the training recipe
    device: torch.device
    checkpoint: Path


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_for_inference(
    checkpoint: str | os.PathLike, config: str | os.PathLike | None = None, device: str = "auto"
) -> InferenceSetup:
    """Load any checkpoint ``load_model`` reads. The recipe (test scale, crop, classes) comes from, in order:
    ``config`` (a training YAML, needed to give a foreign checkpoint another architecture or dataset), the
    config a swinseg checkpoint carries, or the ADE20K defaults."""
    path = resolve_checkpoint(checkpoint)
    train_cfg: TrainConfig | None = load_train_config(config) if config is not None else None
    model = load_model(path, train_cfg.model if train_cfg is not None else None)
    if train_cfg is None and getattr(model, "run_config", None):
        train_cfg = TrainConfig.from_dict(model.run_config)
    data = train_cfg.data if train_cfg is not None else DataConfig()
    classes = getattr(model, "classes", None) or default_classes(model.swinseg_config.num_classes)
    target = pick_device(device)
    return InferenceSetup(model.to(target).eval(), classes, data, target, path)
