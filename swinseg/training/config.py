"""The training run's config: one dataclass per concern, defaults = the paper's ADE20K recipe.

A YAML file holds ``model:`` (:class:`SegmentorConfig`), ``data:`` (:class:`DataConfig`), ``optim:``
(:class:`OptimConfig`), ``inference:`` (:class:`InferenceConfig`, how the run evaluates) and the
:class:`TrainConfig` fields at the top level. Unknown keys are errors. The resolved
config is written beside every checkpoint (``config.yaml`` in the run directory, and inside ``last.pt``).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml

from swinseg.checkpoints.loading import LoadedCheckpoint, load_checkpoint
from swinseg.core.config_keys import check_known_keys
from swinseg.core.config_types import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    UnitInterval,
    validated,
)
from swinseg.core.errors import first_line
from swinseg.core.stopping import DEFAULT_STOP_SIGNALS, signal_number
from swinseg.data.config import DataConfig, build_dataset
from swinseg.data.datasets import SegmentationDataset
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig
from swinseg.models.swin import SwinConfig

__all__ = ["LOSSES", "OptimConfig", "TrainConfig", "load_train_config", "load_with_recipe", "parse_yaml", "recipe_validation_set"]

LOSSES = ("ce", "dice", "focal", "lovasz")


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then poly decay, per iteration (mmseg's Swin ADE20K schedule).

    No weight decay on parameters whose name contains ``norm``, ``relative_position_bias_table`` or
    ``absolute_pos_embed`` (mmseg's ``paramwise_cfg`` for Swin, matched by name as mmseg does).
    """

    lr: PositiveFloat = 6e-5
    betas: tuple[UnitInterval, UnitInterval] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegativeFloat = 0.01
    warmup_iters: NonNegativeInt = 1500
    warmup_start_factor: Probability = 1e-6
    poly_power: NonNegativeFloat = 1.0
    min_lr: NonNegativeFloat = 0.0
    clip_grad_norm: PositiveFloat | None = None

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)


@dataclass
class TrainConfig:
    """One training run.

    batch_size (in ``data``) is the global batch per optimizer step; each process runs
    ``batch_size / (world_size * accum_steps)`` images per forward pass.
    losses: loss name -> weight; names from ``LOSSES`` (``ce`` = cross-entropy with ``class_weights``; the others
        are smp's multiclass Dice / Focal / Lovasz), all with the data's ignore index.
    amp: ``auto`` (bf16 on CUDA if supported else fp16; bf16 on CPUs with native bf16 matmul; else off),
        ``bf16``, ``fp16`` (CUDA only), ``off``.
    max_nonfinite: stop after this many consecutive steps with a non-finite loss or gradient.
    stop_signals: the signals that stop the run cleanly after the step in progress, saving ``last.pt`` there
        (:mod:`swinseg.core.stopping`); exit status 128 + the signal's number.
    """

    model: SegmentorConfig = field(default_factory=SegmentorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    work_dir: str = "runs/upernet_swin_t_ade20k"
    pretrained: str | None = None  # ImageNet / any supported checkpoint for the encoder (or whole model)
    max_iters: PositiveInt = 160_000
    accum_steps: PositiveInt = 1
    losses: dict[str, NonNegativeFloat] = field(default_factory=lambda: {"ce": 1.0})
    class_weights: list[NonNegativeFloat] | None = None
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    grad_checkpointing: bool = False
    seed: NonNegativeInt = 0
    checkpoint_every: PositiveInt = 16_000
    eval_every: PositiveInt = 16_000
    inference: InferenceConfig = field(default_factory=InferenceConfig)  # crop None: data.crop_size
    log_every: PositiveInt = 50
    max_nonfinite: PositiveInt = 20
    device: str = "auto"
    stop_signals: list[str] = field(default_factory=lambda: list(DEFAULT_STOP_SIGNALS))

    def __post_init__(self) -> None:
        bad = set(self.losses) - set(LOSSES)
        if bad or not self.losses:
            raise ValueError(f"unknown losses {sorted(bad)}; choose from {LOSSES}")
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise ValueError(f"amp must be auto, bf16, fp16 or off, not {self.amp!r}")
        for name in self.stop_signals:
            try:
                signal_number(name)
            except ValueError as e:
                raise ValueError(f"stop_signals: {e}") from None
        if self.class_weights is not None and len(self.class_weights) != self.model.num_classes:
            raise ValueError(f"{len(self.class_weights)} class_weights for {self.model.num_classes} classes")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        if "eval_mode" in data:  # the recipe's key before inference: existed (checkpoints written then carry it)
            data = {**data, "inference": {**data.get("inference", {}), "mode": data["eval_mode"]}}
            del data["eval_mode"]
        check_known_keys("training config", data, cls)
        for key, section in (("optim", OptimConfig), ("data", DataConfig), ("inference", InferenceConfig),
                             ("model", SegmentorConfig)):  # fmt: skip
            check_known_keys(f"{key} config", data.get(key, {}), section)
        check_known_keys("model.encoder config", data.get("model", {}).get("encoder", {}), SwinConfig)
        return validated(cls, data)


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; YAML 1.2 and people read it as a number. So do we."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$|^[-+]?(?:\d[\d_]*)?\.\d[\d_]*$|"
               r"^[-+]?\d[\d_]*\.$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)  # fmt: skip


def parse_yaml(text: str) -> object:
    """Safe YAML, with exponent floats such as ``1e-4`` read as numbers."""
    return yaml.load(text, Loader=_YamlLoader)


def load_train_config(path: str | os.PathLike, overrides: dict | None = None) -> TrainConfig:
    """Read a YAML config; ``overrides`` are dotted keys (``{"optim.lr": 1e-4}``) applied on top."""
    path = Path(path)
    try:
        data = parse_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read the config ({first_line(e)})") from e
    if data is None or data == {}:
        raise ValueError(f"{path}: the config is empty (see configs/ for complete recipes)")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config is a mapping of keys to values, not {type(data).__name__}")
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for depth, key in enumerate(parents):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path}: --set {dotted}: {'.'.join(parents[: depth + 1])} is not a mapping")
        node[leaf] = value
    try:
        return TrainConfig.from_dict(data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from e


def load_with_recipe(
    checkpoint: str | os.PathLike, config: str | os.PathLike | None = None, device: str = "cpu"
) -> LoadedCheckpoint:
    """:func:`load_checkpoint`, with the architecture and recipe (test scale, crop, inference) of the training
    YAML ``config`` when one is given: what a foreign checkpoint needs to be another architecture or dataset."""
    if config is None:
        return load_checkpoint(checkpoint, device=device)
    cfg = load_train_config(config)
    return load_checkpoint(checkpoint, cfg.model, cfg.data, cfg.inference, cfg.to_dict(), device=device)


def recipe_validation_set(loaded: LoadedCheckpoint, root: str | os.PathLike, dataset: str | None = None,
                          split: str | None = None, progress: bool = False) -> SegmentationDataset:  # fmt: skip
    """The validation split (or ``split``) of the dataset at ``root``, read as the checkpoint's recipe says (layout,
    test scale, ignore index, reduce_zero_label; ``dataset`` names another layout); its classes must be the
    model's."""
    data = replace(loaded.data, root=str(root), dataset=dataset or loaded.data.dataset)
    val = build_dataset(data, train=False, progress=progress, split=split)
    if val.num_classes != loaded.config.num_classes:
        raise ValueError(f"{root}: {val.num_classes} classes, but {loaded.path} predicts {loaded.config.num_classes}")
    return val
