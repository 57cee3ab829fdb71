"""Datasets, label files and augmentation pipelines."""

from swinseg.data.classes import (
    ClassInfo,
    ade20k_classes,
    cityscapes_classes,
    default_classes,
    load_classes_file,
    voc_classes,
)
from swinseg.data.config import DataConfig, build_dataset
from swinseg.data.datasets import (
    SegmentationDataset,
    ade20k_dataset,
    ade20k_layout_dataset,
    cityscapes_dataset,
    folder_dataset,
    voc_dataset,
)
from swinseg.data.io import DataError, read_image, read_mask, write_label_png
from swinseg.data.synth import generate_ade20k, generate_easy
from swinseg.data.transforms import eval_transform, train_transform

__all__ = [
    "ClassInfo",
    "DataConfig",
    "DataError",
    "SegmentationDataset",
    "ade20k_classes",
    "ade20k_dataset",
    "ade20k_layout_dataset",
    "build_dataset",
    "cityscapes_classes",
    "cityscapes_dataset",
    "default_classes",
    "eval_transform",
    "folder_dataset",
    "generate_ade20k",
    "generate_easy",
    "load_classes_file",
    "read_image",
    "read_mask",
    "train_transform",
    "voc_classes",
    "voc_dataset",
    "write_label_png",
]
