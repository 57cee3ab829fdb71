"""Segmentation datasets: ADE20K, a generic folder of images + masks, Pascal VOC 2012 and Cityscapes.

Every dataset is a list of (image, mask) file pairs plus label rules, checked up front (``validate``): pairs
must match both ways, masks must have their image's size and only values that are classes or the ignore index,
every file must be readable, and no split may be empty. Each problem is one ``DataError`` naming the file.

Items: ``dataset[i]`` or ``dataset[(i, seed)]`` (the training sampler passes a seed with every index so the
augmentation of a sample is reproducible) -> ``{"image": (3, H, W) float, "mask": (H, W) int64, "index": i}``.
Without a transform ``image`` is the (H, W, 3) uint8 array. ``reduce_zero_label`` (ADE20K) maps mask 0 -> ignore
and v -> v - 1 before anything else, as mmsegmentation does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from swinseg.core.progress import progress as progress_bar
from swinseg.data.classes import (
    ClassInfo,
    ade20k_classes,
    cityscapes_classes,
    load_classes_file,
    voc_classes,
)
from swinseg.data.io import (
    DataError,
    apply_reduce_zero_label,
    files_by_stem,
    image_size,
    read_image,
    read_mask,
)
from swinseg.data.transforms import seed_transform

__all__ = [
    "SegmentationDataset",
    "ade20k_dataset",
    "cityscapes_dataset",
    "folder_dataset",
    "pair_files",
    "voc_dataset",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class SegmentationDataset(torch.utils.data.Dataset):
    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        classes: ClassInfo,
        ignore_index: int = 255,
        reduce_zero_label: bool = False,
        transform: Callable | None = None,
        transform_mask: bool = True,
        name: str = "dataset",
        validate: bool = True,
        progress: bool = True,
    ):
        """``transform_mask=False`` (evaluation) transforms the image only and returns the original mask."""
        if not pairs:
            raise DataError(f"{name}: no images found")
        self.pairs = [(Path(i), Path(m)) for i, m in pairs]
        self.classes = classes
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.transform = transform
        self.transform_mask = transform_mask
        self.name = name
        if validate:
            self.validate(progress=progress)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.pairs)

    def load_mask(self, index: int) -> np.ndarray:
        """The (H, W) labels of one sample after ``reduce_zero_label``: 0..K-1 or the ignore index."""
        mask = read_mask(self.pairs[index][1])
        if self.reduce_zero_label:
            mask = apply_reduce_zero_label(mask, self.ignore_index)
        return mask

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, None)
        image, mask = read_image(self.pairs[index][0]), self.load_mask(index)
        if self.transform is not None:
            if seed is not None:
                seed_transform(self.transform, seed)
            if self.transform_mask:
                out = self.transform(image=image, mask=mask)
                image, mask = out["image"], out["mask"]
            else:
                image = self.transform(image=image)["image"]
        return {"image": image, "mask": torch.as_tensor(np.asarray(mask)).long(), "index": index}

    # ------------------------------------------------------------------------------------------------------
    # Up-front checks
    # ------------------------------------------------------------------------------------------------------

    def _check_pair(self, index: int) -> None:
        image_path, mask_path = self.pairs[index]
        size = image_size(image_path)  # header only: decoding every image up front is too slow
        mask = self.load_mask(index)  # decodes fully: the label values must be checked
        if (mask.shape[1], mask.shape[0]) != size:
            raise DataError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is {size[0]}x{size[1]}")
        values = np.unique(mask)
        bad = values[(values >= self.num_classes) & (values != self.ignore_index)]
        if len(bad):
            shown = ", ".join(str(v + self.reduce_zero_label) for v in bad[:8])  # as stored in the file
            valid = f"1..{self.num_classes} (0 ignored)" if self.reduce_zero_label else f"0..{self.num_classes - 1}"
            raise DataError(
                f"{mask_path}: label values {shown} are neither classes {valid} nor the ignore index {self.ignore_index}"
            )

    def validate(self, progress: bool = True, workers: int = 4) -> None:
        """Check every pair (see the module docstring); raises the first problem found, in file order."""
        with ThreadPoolExecutor(workers) as pool:  # PIL decodes without the GIL
            results = pool.map(self._check_pair, range(len(self)))
            bar = progress_bar(results, total=len(self), desc=f"checking {self.name}", disable=not progress, leave=False)
            for _ in bar:
                pass


# ----------------------------------------------------------------------------------------------------------
# Pairing files
# ----------------------------------------------------------------------------------------------------------


def pair_files(img_dir: Path, ann_dir: Path, img_suffix: str = ".jpg", ann_suffix: str = ".png") -> list[tuple[Path, Path]]:
    """Match ``img_dir/<stem><img_suffix>`` with ``ann_dir/<stem><ann_suffix>`` (recursively); every image needs a
    mask and every mask an image."""
    images, masks = files_by_stem(img_dir, img_suffix, "image"), files_by_stem(ann_dir, ann_suffix, "mask")
    if not images:
        raise DataError(f"{img_dir}: no *{img_suffix} images")
    for stem, path in images.items():
        if stem not in masks:
            raise DataError(f"{path}: no mask {Path(ann_dir) / (stem + ann_suffix)}")
    for stem, path in masks.items():
        if stem not in images:
            raise DataError(f"{path}: mask without an image {Path(img_dir) / (stem + img_suffix)}")
    return [(images[s], masks[s]) for s in sorted(images)]


# ----------------------------------------------------------------------------------------------------------
# The datasets
# ----------------------------------------------------------------------------------------------------------


def ade20k_dataset(root: str | os.PathLike, split: str = "training", **kwargs) -> SegmentationDataset:
    """ADE20K SceneParsing, release layout ``ADEChallengeData2016/{images,annotations}/{training,validation}``.

    ``root`` is the ``ADEChallengeData2016`` directory or its parent. Masks hold 0 = other (ignored) and 1..150;
    ``reduce_zero_label`` (default True) turns them into 0..149 + 255.
    """
    root = Path(root)
    if not (root / "images").is_dir() and (root / "ADEChallengeData2016").is_dir():
        root = root / "ADEChallengeData2016"
    if split not in ("training", "validation"):
        raise ValueError(f"ADE20K split must be 'training' or 'validation', not {split!r}")
    pairs = pair_files(root / "images" / split, root / "annotations" / split, ".jpg", ".png")
    kwargs.setdefault("reduce_zero_label", True)
    return SegmentationDataset(pairs, ade20k_classes(), name=f"ADE20K {split} ({root})", **kwargs)


def ade20k_layout_dataset(root: str | os.PathLike, split: str = "training", **kwargs) -> SegmentationDataset:
    """A dataset of its own classes in ADE20K's release layout: ``root/images/{training,validation}/*.jpg``,
    ``root/annotations/...*.png`` and ``root/classes.json`` (``{"classes": [...], "palette": [...]}``, see
    :func:`~swinseg.data.classes.load_classes_file`). As in ADE20K, masks hold 0 = other (ignored) and
    1..K = ``classes[0..K-1]`` (``reduce_zero_label`` True by default). :func:`swinseg.data.synth.generate_easy`
    writes one."""
    root = Path(root)
    if split not in ("training", "validation"):
        raise ValueError(f"split must be 'training' or 'validation', not {split!r}")
    if not (root / "classes.json").is_file():
        raise DataError(f"{root}: no classes.json (the ade20k_layout dataset names its classes there)")
    pairs = pair_files(root / "images" / split, root / "annotations" / split, ".jpg", ".png")
    kwargs.setdefault("reduce_zero_label", True)
    return SegmentationDataset(pairs, load_classes_file(root / "classes.json"), name=f"{root} {split}", **kwargs)


def folder_dataset(
    img_dir: str | os.PathLike,
    ann_dir: str | os.PathLike,
    classes: ClassInfo,
    img_suffix: str = ".jpg",
    ann_suffix: str = ".png",
    **kwargs,
) -> SegmentationDataset:
    """Any images + label masks matched by relative path and stem (``a/b.jpg`` <-> ``a/b.png``)."""
    pairs = pair_files(Path(img_dir), Path(ann_dir), img_suffix, ann_suffix)
    return SegmentationDataset(pairs, classes, name=str(img_dir), **kwargs)


def voc_dataset(root: str | os.PathLike, split: str = "train", **kwargs) -> SegmentationDataset:
    """Pascal VOC 2012: ``JPEGImages``, ``SegmentationClass`` (palette PNGs, 255 on borders) and the image lists
    ``ImageSets/Segmentation/{train,val,trainval}.txt``. ``root`` is ``VOC2012`` or a parent holding
    ``VOCdevkit/VOC2012``."""
    root = Path(root)
    for candidate in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (candidate / "ImageSets" / "Segmentation").is_dir():
            root = candidate
            break
    list_file = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_file.is_file():
        raise DataError(f"{list_file}: split list not found (is {root} a VOC2012 directory?)")
    stems = [line.split()[0] for line in list_file.read_text().splitlines() if line.strip()]
    pairs = [(root / "JPEGImages" / f"{s}.jpg", root / "SegmentationClass" / f"{s}.png") for s in stems]
    for image, mask in pairs:
        for path in (image, mask):
            if not path.is_file():
                raise DataError(f"{path}: listed in {list_file} but missing")
    return SegmentationDataset(pairs, voc_classes(), name=f"VOC2012 {split} ({list_file})", **kwargs)


def cityscapes_dataset(root: str | os.PathLike, split: str = "train", **kwargs) -> SegmentationDataset:
    """Cityscapes: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with ``gtFine/<split>/<city>/
    *_gtFine_labelTrainIds.png`` (made by cityscapesScripts' ``createTrainIdLabelImgs``; 19 classes, 255 ignored)."""
    root = Path(root)
    pairs = pair_files(root / "leftImg8bit" / split, root / "gtFine" / split, "_leftImg8bit.png", "_gtFine_labelTrainIds.png")
    return SegmentationDataset(pairs, cityscapes_classes(), name=f"Cityscapes {split} ({root})", **kwargs)
