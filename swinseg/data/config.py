"""Which dataset to train and evaluate on, and how to augment it: one dataclass and the function that builds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from swinseg.core.config_keys import check_known_keys
from swinseg.core.config_types import NonNegativeInt, PositiveFloat, PositiveInt, Probability, validated
from swinseg.data.classes import load_classes_file
from swinseg.data.datasets import (
    SegmentationDataset,
    ade20k_dataset,
    ade20k_layout_dataset,
    cityscapes_dataset,
    folder_dataset,
    voc_dataset,
)
from swinseg.data.transforms import eval_transform, train_transform

__all__ = ["DataConfig", "build_dataset"]

SPLITS = {  # dataset -> (training split, validation split) names in its own layout
    "ade20k": ("training", "validation"),
    "ade20k_layout": ("training", "validation"),
    "voc": ("train", "val"),
    "cityscapes": ("train", "val"),
}


@dataclass
class DataConfig:
    """Defaults are mmsegmentation's ADE20K recipe (512 crops from (2048, 512) x 0.5-2.0, 16 images a step).

    dataset: ``ade20k`` | ``voc`` | ``cityscapes`` | ``ade20k_layout`` (ADE20K's layout with the classes in
        ``root/classes.json``; ``root`` is the dataset directory) or ``folder``
        (``train_images``/``train_masks``/``val_images``/``val_masks`` directories and a ``classes`` file).
    batch_size: images per optimizer step over all processes, before gradient accumulation splits it.
    """

    dataset: Literal["ade20k", "ade20k_layout", "voc", "cityscapes", "folder"] = "ade20k"
    root: str = "data/ade"
    train_images: str | None = None
    train_masks: str | None = None
    val_images: str | None = None
    val_masks: str | None = None
    classes: str | None = None
    img_suffix: str = ".jpg"
    mask_suffix: str = ".png"
    ignore_index: NonNegativeInt = 255
    reduce_zero_label: bool | None = None  # None: the dataset's convention (True for ADE20K only)
    crop_size: tuple[PositiveInt, PositiveInt] = (512, 512)
    scale: tuple[PositiveInt, PositiveInt] = (2048, 512)
    ratio_range: tuple[PositiveFloat, PositiveFloat] = (0.5, 2.0)
    cat_max_ratio: Probability = 0.75
    batch_size: PositiveInt = 16
    num_workers: NonNegativeInt = 2

    def __post_init__(self) -> None:
        if self.dataset not in (*SPLITS, "folder"):
            raise ValueError(f"unknown dataset {self.dataset!r}; choose from {[*SPLITS, 'folder']}")
        self.crop_size, self.scale = tuple(self.crop_size), tuple(self.scale)
        self.ratio_range = tuple(self.ratio_range)
        if self.ratio_range[0] > self.ratio_range[1]:
            raise ValueError(f"data.ratio_range: expected [low, high] with low <= high, got {list(self.ratio_range)}")

    @classmethod
    def from_dict(cls, data: dict) -> DataConfig:
        check_known_keys("data config", data, cls)
        return validated(cls, data, "data.")


def build_dataset(
    cfg: DataConfig, train: bool, validate: bool = True, progress: bool = True, split: str | None = None
) -> SegmentationDataset:
    """The training split with the training pipeline, or the validation split with the evaluation one.

    ``split`` names another split of the dataset's own layout (e.g. ``training`` for ADE20K) to read instead.
    """
    if train:
        transform = train_transform(cfg.crop_size, cfg.scale, cfg.ratio_range, cfg.cat_max_ratio, cfg.ignore_index)
    else:
        transform = eval_transform(cfg.scale)
    kwargs = dict(
        ignore_index=cfg.ignore_index,
        transform=transform,
        transform_mask=train,
        validate=validate,
        progress=progress,
    )
    if cfg.reduce_zero_label is not None:
        kwargs["reduce_zero_label"] = cfg.reduce_zero_label
    if cfg.dataset == "folder":
        images, masks = (cfg.train_images, cfg.train_masks) if train else (cfg.val_images, cfg.val_masks)
        if not (images and masks and cfg.classes):
            split = "train" if train else "val"
            raise ValueError(f"a folder dataset needs {split}_images, {split}_masks and classes")
        return folder_dataset(images, masks, load_classes_file(cfg.classes), cfg.img_suffix, cfg.mask_suffix, **kwargs)
    build = {"ade20k": ade20k_dataset, "ade20k_layout": ade20k_layout_dataset, "voc": voc_dataset,
             "cityscapes": cityscapes_dataset}[cfg.dataset]  # fmt: skip
    return build(cfg.root, split or SPLITS[cfg.dataset][0 if train else 1], **kwargs)
