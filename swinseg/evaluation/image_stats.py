"""Per-image statistics: what the dataset-level metrics are sums of, one row per image, saved in one small file.

For image i and class k: ``intersect[i, k]`` (pixels of class k predicted as k), ``pred[i, k]`` (labelled pixels
predicted as k) and ``label[i, k]`` (pixels labelled k); the union is ``pred + label - intersect``. Summed over
images they are exactly the areas of the streaming :class:`ConfusionMatrix`, so :meth:`ImageStats.metrics`
gives the original run's numbers bit for bit, and bootstrap intervals and paired comparisons
(:mod:`swinseg.evaluation.bootstrap`) need no model run.

File: ``.npz`` (``numpy.savez_compressed``, read with ``allow_pickle=False``): ``images`` (N names), ``intersect``,
``pred``, ``label`` (N, K) uint32, and ``meta``, a JSON string (class names, ignore index, provenance). ADE20K val
(2000 x 150) is a few MB, most rows being zeros for the classes an image lacks.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from swinseg.core.atomic_write import atomic_write
from swinseg.core.errors import first_line
from swinseg.evaluation.metrics import ConfusionMatrix, compute_metrics

__all__ = ["ImageStats", "StatsCollector"]

FORMAT = "swinseg-image-stats/1"


@dataclass
class ImageStats:
    """Per-image areas of one model on one image set (see the module docstring)."""

    images: list[str]
    intersect: np.ndarray  # (N, K) uint32
    pred: np.ndarray
    label: np.ndarray
    class_names: list[str]
    ignore_index: int = 255
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, k = len(self.images), len(self.class_names)
        for name in ("intersect", "pred", "label"):
            array = np.asarray(getattr(self, name))
            if array.shape != (n, k):
                raise ValueError(f"image stats: {name} has shape {array.shape}, expected ({n}, {k})")
            setattr(self, name, array)

    @property
    def num_images(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def areas(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Dataset-level (intersect, union, pred, label), float64 (K,): the confusion matrix's own areas."""
        inter, pred, label = (a.astype(np.int64).sum(0) for a in (self.intersect, self.pred, self.label))
        return (inter.astype(np.float64), (pred + label - inter).astype(np.float64), pred.astype(np.float64),
                label.astype(np.float64))  # fmt: skip

    def mismatch(self, other: ImageStats) -> str | None:
        """How ``other`` covers other images or classes than these stats (None: the same, in the same order)."""
        if self.images != other.images:
            only = sorted(set(self.images) ^ set(other.images))
            return f"{only[0]!r} is in one only" if only else "the same images in another order"
        if self.class_names != other.class_names:
            return f"other classes ({self.num_classes} vs {other.num_classes})"
        return None

    def metrics(self, devkit: bool = False) -> dict:
        """``compute_metrics`` of the summed areas plus ``num_images``: the numbers of the run that saved them."""
        return {**compute_metrics(self.areas(), self.class_names, devkit=devkit), "num_images": self.num_images}

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        meta = {"format": FORMAT, "class_names": self.class_names, "ignore_index": self.ignore_index,
                "provenance": self.provenance}  # fmt: skip
        buffer = io.BytesIO()
        np.savez_compressed(buffer, images=np.asarray(self.images, dtype=str), intersect=self.intersect,
                            pred=self.pred, label=self.label, meta=np.asarray(json.dumps(meta)))  # fmt: skip
        return atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(buffer.getvalue()), overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ImageStats:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
                return cls([str(s) for s in f["images"]], f["intersect"], f["pred"], f["label"],
                           list(meta["class_names"]), int(meta["ignore_index"]), meta.get("provenance", {}))  # fmt: skip
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{path}: not a swinseg image-stats file ({first_line(e)})") from e


class StatsCollector:
    """Scores predictions image by image into the rows of an :class:`ImageStats` (each image's own
    :class:`ConfusionMatrix` areas; their sums are the dataset's)."""

    def __init__(self, num_classes: int, ignore_index: int = 255):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.names: list[str] = []
        self.rows: list[np.ndarray] = []  # (3, K) per image: intersect, pred, label

    def update(self, name: str, pred: object, target: object) -> None:
        image = ConfusionMatrix(self.num_classes, self.ignore_index)
        image.update(pred, target)
        self.names.append(name)
        self.rows.append(np.stack([image.area_intersect, image.area_pred, image.area_label]).astype(np.uint32))

    def stats(self, class_names: list[str], provenance: dict | None = None) -> ImageStats:
        rows = np.stack(self.rows) if self.rows else np.zeros((0, 3, self.num_classes), np.uint32)
        return ImageStats(self.names, rows[:, 0], rows[:, 1], rows[:, 2], list(class_names), self.ignore_index,
                          provenance or {})  # fmt: skip
