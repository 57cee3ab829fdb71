"""A results report a person reads: Markdown with a picture grid, a per-class IoU chart and a class legend.

``write_report`` takes metrics from :func:`swinseg.evaluation.metrics.compute_metrics` and a few samples (image, ground
truth, prediction) and writes into one folder::

    report.md      summary table, per-class table, links to the pictures, how the numbers were made
    samples.png    one row per sample: image | ground truth | prediction | error map
    iou.png        per-class IoU bars (classes present in ground truth or predictions)
    legend.png     colour and name of every class that appears in the samples
    learning.png   training loss and validation mIoU against iterations and minutes (when given a run's log)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swinseg.core.atomic_write import atomic_write
from swinseg.data.classes import ClassInfo
from swinseg.evaluation.metrics import results_to_markdown
from swinseg.visualize import (
    colorize,
    comparison_grid,
    error_map,
    iou_bar_chart,
    learning_curve_chart,
    legend,
)

__all__ = ["Sample", "write_report"]


@dataclass
class Sample:
    """One image for the picture grid: (H, W, 3) uint8 RGB and (H, W) label maps of the same size."""

    name: str
    image: np.ndarray
    target: np.ndarray
    prediction: np.ndarray


def _save_png(image, path: Path) -> None:
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"), overwrite=True)


def write_report(
    out_dir: str | os.PathLike,
    results: dict,
    samples: Sequence[Sample],
    classes: ClassInfo,
    title: str = "swinseg report",
    details: Sequence[str] = (),
    ignore_index: int = 255,
    training_log: Sequence[dict] = (),
) -> Path:
    """Write the report (see the module docstring) into ``out_dir``; returns the path of ``report.md``.

    ``details`` are Markdown bullet lines describing how the numbers were made (model, data, training time).
    ``training_log`` are the records of the run's ``metrics.jsonl``; when given, the report draws its learning
    curve.
    Files are replaced atomically: a report is derived data, rewritten on every run.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        (s.image, colorize(s.target, classes.palette), colorize(s.prediction, classes.palette),
         error_map(s.prediction, s.target, ignore_index))
        for s in samples
    ]  # fmt: skip
    grid = comparison_grid(rows, ("image", "ground truth", "prediction", "error (green right, red wrong)"),
                           row_labels=[s.name for s in samples])  # fmt: skip
    _save_png(grid, out / "samples.png")
    iou_bar_chart(results["per_class"], out / "iou.png", title=f"per-class IoU (mIoU {results['mIoU']:.1f})")
    seen = sorted({int(v) for s in samples for m in (s.target, s.prediction) for v in np.unique(m)} - {ignore_index})
    _save_png(legend(classes, [v for v in seen if v < len(classes)]), out / "legend.png")

    present = dict(results)
    present["per_class"] = [r for r in results["per_class"] if r.get("IoU") is not None]
    text = [
        f"# {title}",
        "",
        *[f"- {line}" for line in details],
        "",
        "## Summary (percent)",
        "",
        results_to_markdown(present).strip(),
        "",
        "Per-class rows list the classes present in the ground truth or the predictions; the mean is over those "
        "(mmsegmentation's mIoU).",
        "",
        "## Samples",
        "",
        "![image, ground truth, prediction, error map](samples.png)",
        "",
        "![class legend](legend.png)",
        "",
        "## Per-class IoU",
        "",
        "![per-class IoU](iou.png)",
        "",
    ]
    if training_log:
        learning_curve_chart(training_log, out / "learning.png", title="training loss and validation mIoU")
        text += ["## Learning curve", "", "![training loss and validation mIoU](learning.png)", ""]
    path = out / "report.md"
    atomic_write(path, lambda tmp: Path(tmp).write_text("\n".join(text)), overwrite=True)
    return path
