"""Class names and palettes of the supported datasets, and reading a user's classes file.

ADE20K's 150 classes ship as package data (``ade20k_classes.json``: names, palette, stuff flags, in benchmark
order). Pascal VOC and Cityscapes are short enough to write here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = [
    "ClassInfo",
    "ade20k_classes",
    "ade20k_stuff_flags",
    "cityscapes_classes",
    "default_classes",
    "load_classes_file",
    "voc_classes",
]


@dataclass(frozen=True)
class ClassInfo:
    """Names and RGB palette of a dataset's classes; label ``i`` is ``names[i]``."""

    names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.palette):
            raise ValueError(f"{len(self.names)} class names but {len(self.palette)} palette colours")

    def __len__(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict:
        return {"classes": list(self.names), "palette": [list(c) for c in self.palette]}

    @classmethod
    def from_dict(cls, data: dict) -> ClassInfo:
        """The inverse of :meth:`to_dict` (also the JSON classes-file layout)."""
        return cls(tuple(str(n) for n in data["classes"]), tuple(tuple(int(v) for v in c) for c in data["palette"]))

    def flat_palette(self) -> list[int]:
        """The palette as PIL's ``putpalette`` wants it: 768 ints, unused entries black."""
        flat = [c for rgb in self.palette[:256] for c in rgb]
        return flat + [0] * (768 - len(flat))


@cache
def _ade20k_json() -> dict:
    return json.loads(resources.files("swinseg.data").joinpath("ade20k_classes.json").read_text())


def ade20k_classes() -> ClassInfo:
    """The 150 ADE20K SceneParsing classes (labels after ``reduce_zero_label``: 0 = wall ... 149 = flag)."""
    data = _ade20k_json()
    return ClassInfo(tuple(data["classes"]), tuple(tuple(c) for c in data["palette"]))


def ade20k_stuff_flags() -> tuple[bool, ...]:
    """Whether each ADE20K class is "stuff" (wall, sky, floor, ...) rather than a countable object."""
    return tuple(bool(s) for s in _ade20k_json()["is_stuff"])


def _voc_palette(n: int) -> tuple[tuple[int, int, int], ...]:
    """The PASCAL VOC colour map: the bits of the label spread over the high bits of R, G and B."""
    palette = []
    for label in range(n):
        r = g = b = 0
        c = label
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.append((r, g, b))
    return tuple(palette)


VOC_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


def voc_classes() -> ClassInfo:
    """Pascal VOC 2012: background + 20 objects (255 marks object borders and is ignored)."""
    return ClassInfo(VOC_NAMES, _voc_palette(len(VOC_NAMES)))


CITYSCAPES = (  # the 19 evaluated classes in trainId order, with the official colours
    ("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("building", (70, 70, 70)), ("wall", (102, 102, 156)),
    ("fence", (190, 153, 153)), ("pole", (153, 153, 153)), ("traffic light", (250, 170, 30)),
    ("traffic sign", (220, 220, 0)), ("vegetation", (107, 142, 35)), ("terrain", (152, 251, 152)),
    ("sky", (70, 130, 180)), ("person", (220, 20, 60)), ("rider", (255, 0, 0)), ("car", (0, 0, 142)),
    ("truck", (0, 0, 70)), ("bus", (0, 60, 100)), ("train", (0, 80, 100)), ("motorcycle", (0, 0, 230)),
    ("bicycle", (119, 11, 32)),
)  # fmt: skip


def cityscapes_classes() -> ClassInfo:
    """Cityscapes' 19 training classes (``*_labelTrainIds.png`` values 0..18, 255 ignored)."""
    return ClassInfo(tuple(n for n, _ in CITYSCAPES), tuple(c for _, c in CITYSCAPES))


def load_classes_file(path: str | os.PathLike) -> ClassInfo:
    """A user's classes: JSON ``{"classes": [...], "palette": [[r, g, b], ...]}`` (palette optional) or a text
    file with one class name per line. Classes without a palette get VOC-style distinct colours."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"{path}: cannot read the classes file ({e.strerror})") from e
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
        if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
            raise ValueError(f'{path}: expected {{"classes": [...], "palette": [...]}}')
        names, palette = data["classes"], data.get("palette")
    else:
        names, palette = [line.strip() for line in text.splitlines() if line.strip()], None
    if not names:
        raise ValueError(f"{path}: no class names")
    if palette is None:
        palette = _voc_palette(len(names))
    if len(palette) != len(names) or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in palette):
        raise ValueError(f"{path}: the palette must hold one [r, g, b] (0-255) per class ({len(names)} classes)")
    return ClassInfo(tuple(str(n) for n in names), tuple(tuple(int(v) for v in c) for c in palette))


def default_classes(num_classes: int) -> ClassInfo:
    """Classes for a model that carries none: ADE20K's for 150 classes, else ``class_0`` ... with VOC colours."""
    if num_classes == 150:
        return ade20k_classes()
    return ClassInfo(tuple(f"class_{i}" for i in range(num_classes)), _voc_palette(num_classes))
