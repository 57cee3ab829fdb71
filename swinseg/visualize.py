"""Pictures of segmentations: colour maps, overlays, error maps, comparison grids, per-class IoU charts and
learning curves.

Arrays are numpy: images (H, W, 3) uint8 RGB, label maps (H, W) integers. Labels outside the palette (the
ignore index 255) are drawn black. Nothing here touches a model; matplotlib is imported only by the charts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from swinseg.core.atomic_write import atomic_write
from swinseg.data.classes import ClassInfo

__all__ = [
    "colorize",
    "comparison_grid",
    "confidence_image",
    "error_map",
    "iou_bar_chart",
    "learning_curve_chart",
    "legend",
    "minutes_at_iterations",
    "overlay",
]

CORRECT, WRONG, IGNORED = (40, 160, 60), (220, 40, 40), (0, 0, 0)


def colorize(labels: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) labels -> (H, W, 3) uint8 colours; labels without a palette entry are black."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = np.asarray(palette[:256], np.uint8).reshape(-1, 3)
    labels = np.asarray(labels)
    inside = (labels >= 0) & (labels < 256)
    return lut[np.where(inside, labels, 255).astype(np.intp)]


def overlay(image: np.ndarray, labels: np.ndarray, palette: Sequence[Sequence[int]], alpha: float = 0.5) -> np.ndarray:
    """The colour map blended over the image: ``(1 - alpha) * image + alpha * colours`` (uint8)."""
    colours = colorize(labels, palette).astype(np.float32)
    return ((1 - alpha) * np.asarray(image, np.float32) + alpha * colours + 0.5).clip(0, 255).astype(np.uint8)


def error_map(pred: np.ndarray, target: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """Green where the prediction is right, red where it is wrong, black where the label is ignored."""
    out = np.empty(target.shape + (3,), np.uint8)
    out[:] = WRONG
    out[pred == target] = CORRECT
    out[target == ignore_index] = IGNORED
    return out


def confidence_image(confidence: np.ndarray) -> np.ndarray:
    """Per-pixel confidence in [0, 1] -> (H, W) uint8 grey (255 = certain)."""
    return (np.asarray(confidence, np.float32).clip(0, 1) * 255 + 0.5).astype(np.uint8)


def _tile(array: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """An (H, W[, 3]) array as an RGB image scaled to fit ``size`` = (w, h) (nearest neighbour, so label maps
    keep their exact colours), centred on white."""
    image = ImageOps.contain(Image.fromarray(array).convert("RGB"), size, Image.Resampling.NEAREST)  # up or down
    tile = Image.new("RGB", size, (255, 255, 255))
    tile.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return tile


def comparison_grid(
    rows: Sequence[Sequence[np.ndarray]],
    titles: Sequence[str] = ("image", "ground truth", "prediction"),
    row_labels: Sequence[str] | None = None,
    tile_size: tuple[int, int] = (256, 192),
) -> Image.Image:
    """One row per sample, one column per picture (already coloured arrays), titled columns: a PIL image."""
    header, label_w = 20, 0 if row_labels is None else 140
    w, h = tile_size
    cols = max(len(r) for r in rows)
    grid = Image.new("RGB", (label_w + cols * w, header + len(rows) * h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for j, title in enumerate(titles[:cols]):
        draw.text((label_w + j * w + 4, 4), title, fill=(0, 0, 0))
    for i, row in enumerate(rows):
        if row_labels is not None:
            draw.text((4, header + i * h + h // 2 - 6), row_labels[i][:22], fill=(0, 0, 0))
        for j, picture in enumerate(row):
            grid.paste(_tile(picture, tile_size), (label_w + j * w, header + i * h))
    return grid


def legend(classes: ClassInfo, labels: Sequence[int] | None = None, swatch: int = 16) -> Image.Image:
    """A colour swatch and name per class (all classes, or just ``labels``), in columns of 25."""
    labels = list(range(len(classes))) if labels is None else list(labels)
    per_col, col_w = 25, 180
    cols = max(1, -(-len(labels) // per_col))
    image = Image.new("RGB", (cols * col_w, min(len(labels), per_col) * (swatch + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for k, label in enumerate(labels):
        x, y = (k // per_col) * col_w + 4, (k % per_col) * (swatch + 4) + 4
        draw.rectangle((x, y, x + swatch, y + swatch), fill=tuple(classes.palette[label]), outline=(0, 0, 0))
        draw.text((x + swatch + 6, y + 2), f"{label} {classes.names[label]}"[:26], fill=(0, 0, 0))
    return image


def iou_bar_chart(per_class: Sequence[dict], path: str | os.PathLike, title: str = "per-class IoU") -> Path:
    """A horizontal bar per class present in the ground truth or the predictions (``compute_metrics``'
    ``per_class`` rows: ``name`` and ``IoU`` in percent, ``None`` when undefined), sorted by IoU; PNG, atomic.

    Draws on a bare ``matplotlib.figure.Figure``, so it neither needs nor changes pyplot's backend.
    """
    from matplotlib.figure import Figure

    rows = sorted((r for r in per_class if r.get("IoU") is not None), key=lambda r: r["IoU"])
    fig = Figure(figsize=(7, 0.8 + 0.22 * max(len(rows), 1)))
    ax = fig.subplots()
    ax.barh([r["name"] for r in rows], [r["IoU"] for r in rows], color="#3b75af")
    ax.set_xlim(0, 100)
    ax.set_xlabel("IoU (%)")
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), overwrite=True)
    return path


def minutes_at_iterations(records: Sequence[dict]) -> tuple[np.ndarray, np.ndarray] | None:
    """(iterations, minutes) of a run's log records, from (0, 0) on, for the chart's minutes axis; ``None`` when
    the clock is not increasing with the iterations (a run resumed part-way restarts its clock)."""
    first: dict[int, float] = {}  # an evaluation is logged after its iteration's training record: keep the first
    for r in records:
        if "elapsed_s" in r:
            first.setdefault(r["iter"], r["elapsed_s"])
    iters = np.array([0.0, *first], dtype=float)
    minutes = np.array([0.0, *first.values()]) / 60
    if len(iters) < 2 or np.any(np.diff(iters) <= 0) or np.any(np.diff(minutes) < 0):
        return None
    return iters, minutes


def learning_curve_chart(records: Sequence[dict], path: str | os.PathLike, title: str = "learning curve") -> Path:
    """Training loss and validation mIoU against iterations (bottom axis) and minutes (top axis); PNG, atomic.

    ``records`` are a run's ``metrics.jsonl`` lines: training records carry ``iter``, ``loss`` and ``elapsed_s``,
    evaluation records ``iter``, ``mIoU`` and ``elapsed_s``. Runs resumed part-way are drawn as logged.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    train = sorted((r["iter"], r["loss"]) for r in records if "loss" in r)
    evals = sorted((r["iter"], r["mIoU"]) for r in records if r.get("mIoU") is not None)
    if not train and not evals:
        raise ValueError("no training or evaluation records to draw")
    clock = minutes_at_iterations(records)
    fig = Figure(figsize=(7, 3.2))
    loss_ax = fig.subplots()
    if train:
        loss_ax.plot(*zip(*train), color="#3b75af")
    loss_ax.set_xlabel("iteration")
    loss_ax.set_ylabel("training loss", color="#3b75af")
    loss_ax.set_ylim(bottom=0)
    miou_ax = loss_ax.twinx()
    if evals:
        miou_ax.plot(*zip(*evals), "o-", color="#d2691e")
    miou_ax.set_ylabel("validation mIoU (%)", color="#d2691e")
    miou_ax.set_ylim(0, 100)
    if clock is not None:
        iters, minutes = clock
        loss_ax.set_xlim(0, iters[-1])  # the minutes axis is known up to the last logged iteration
        top = loss_ax.secondary_xaxis(
            "top", functions=(lambda i: np.interp(i, iters, minutes), lambda m: np.interp(m, minutes, iters))
        )
        ticks = MaxNLocator(8).tick_values(0, minutes[-1])  # only minutes the run reached: no clamped extras
        top.set_xticks([t for t in ticks if 0 <= t <= minutes[-1]])
        top.set_xlabel("minutes")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), overwrite=True)
    return path
