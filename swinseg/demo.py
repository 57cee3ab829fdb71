"""``swinseg demo``: the whole pipeline on built-in data, on a CPU, in minutes.

1. write the synthetic ADE20K-layout dataset (:mod:`swinseg.data.synth`)      -> WORK/data
2. train a small Swin + UPerNet on it (:func:`swinseg.training.loop.train`) -> WORK/run
3. evaluate the best checkpoint on the validation split                      -> WORK/report/metrics.json
4. segment the validation images as a folder (:mod:`swinseg.predict`)        -> WORK/predictions
5. write a report with pictures (:mod:`swinseg.report`)                      -> WORK/report/report.md

Every step resumes: the dataset and the training continue where an interrupted demo stopped, and a finished
training is not repeated. The recipe is the file ``swinseg/recipes/demo_cpu.yaml`` (``configs/demo_cpu.yaml``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from swinseg.benchmark.measure import count_params
from swinseg.checkpoints.loading import load_checkpoint
from swinseg.core.atomic_write import atomic_write
from swinseg.data.config import build_dataset
from swinseg.data.io import read_image, read_mask
from swinseg.data.synth import generate_ade20k
from swinseg.evaluation.evaluate import evaluate
from swinseg.predict import collect_inputs, predict_images
from swinseg.report import Sample, write_report
from swinseg.training.config import TrainConfig, load_train_config
from swinseg.training.loop import train

__all__ = ["demo_config", "run_demo"]

NUM_TRAIN, NUM_VAL, SCENE_SIZE = 256, 32, (128, 128)
DEMO_RECIPE = Path(__file__).parent / "recipes" / "demo_cpu.yaml"


def demo_config(work_dir: str | os.PathLike = "swinseg-demo", max_iters: int = 240) -> TrainConfig:
    """The demo's recipe, :data:`DEMO_RECIPE` (``configs/demo_cpu.yaml`` links to it), with its data and run
    under ``work_dir`` and ``max_iters`` iterations (evaluated half-way and at the end)."""
    work_dir = Path(work_dir)
    return load_train_config(DEMO_RECIPE, {
        "data.root": str(work_dir / "data" / "ADEChallengeData2016"),
        "work_dir": str(work_dir / "run"),
        "max_iters": max_iters,
        "eval_every": max(max_iters // 2, 1),
    })  # fmt: skip


def run_demo(work_dir: str | os.PathLike = "swinseg-demo", max_iters: int = 240, num_train: int = NUM_TRAIN,
             num_val: int = NUM_VAL, progress: bool = True) -> Path:  # fmt: skip
    """Run the five steps (module docstring) in ``work_dir``; returns the path of the report."""
    work_dir = Path(work_dir)
    start = time.perf_counter()
    say = print if progress else (lambda *a, **k: None)

    say(f"[1/5] synthetic ADE20K-layout dataset ({num_train} + {num_val} scenes) in {work_dir / 'data'}")
    generate_ade20k(work_dir / "data", num_train, num_val, SCENE_SIZE, progress=progress)

    cfg = demo_config(work_dir, max_iters)
    say(f"[2/5] training Swin C=32 + UPerNet for {max_iters} iterations of {cfg.data.batch_size} crops on the CPU "
        f"in {cfg.work_dir}")  # fmt: skip
    t_train = time.perf_counter()
    train(cfg, progress=progress)
    train_seconds = time.perf_counter() - t_train

    say("[3/5] evaluating the best checkpoint on the validation split")
    loaded = load_checkpoint(Path(cfg.work_dir) / "best.safetensors", device="cpu")
    val_set = build_dataset(cfg.data, train=False, progress=False)
    results = evaluate(loaded.model, val_set, loaded.inference, progress=progress)
    report_dir = work_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(report_dir / "metrics.json", lambda t: Path(t).write_text(json.dumps(results, indent=1)), True)

    say(f"[4/5] segmenting the folder {Path(cfg.data.root) / 'images' / 'validation'}")
    pred_dir = work_dir / "predictions"
    summary = predict_images(
        loaded.model,
        collect_inputs([str(Path(cfg.data.root) / "images" / "validation")]),
        pred_dir,
        loaded.classes,
        loaded.inference.with_overrides(mode="auto"),
        scale=loaded.data.scale,
        overlay=True,
        overwrite=True,
        progress=progress,
    )

    say("[5/5] writing the report")
    samples = []
    for i in range(min(6, len(val_set))):
        image_path, mask_path = val_set.pairs[i]
        target = val_set.load_mask(i)
        prediction = read_mask(pred_dir / (Path(image_path).stem + ".png"))
        samples.append(Sample(Path(image_path).name, read_image(image_path), target, prediction))
    majority = _majority_class_miou(val_set)
    details = [
        f"model: Swin C=32 depths 2-2-2-2 + UPerNet ({count_params(loaded.model) / 1e6:.2f} M parameters), trained {max_iters} "
        f"iterations x {cfg.data.batch_size} crops of 128x128 in {train_seconds / 60:.1f} min on the CPU "
        "(0 min when the training had already finished)",
        f"data: synthetic ADE20K-layout scenes (20 of ADE20K's 150 classes), {num_train} for training, "
        f"{len(val_set)} for validation; `swinseg data synth` writes them",
        f"evaluation: whole image at the recipe's test scale (256, 128), mmsegmentation's metrics; always "
        f"predicting the commonest class scores mIoU {majority:.2f}",
        f"predictions: {summary.written + summary.skipped_existing} label PNGs and overlays in `{pred_dir}`",
        f"checkpoint: `{Path(cfg.work_dir) / 'best.safetensors'}` (try `swinseg predict` / `swinseg eval` on it)",
        f"total time of this demo run: {(time.perf_counter() - start) / 60:.1f} min",
    ]
    path = write_report(report_dir, results, samples, loaded.classes, "swinseg demo report", details)
    say(f"mIoU {results['mIoU']:.2f} (commonest-class baseline {majority:.2f}), aAcc {results['aAcc']:.2f}")
    return path


def _majority_class_miou(dataset) -> float:
    """mIoU of predicting the validation split's commonest class everywhere (mmseg's mean over classes present)."""
    masks = [dataset.load_mask(i) for i in range(len(dataset))]
    counts = sum(np.bincount(m[m != dataset.ignore_index].ravel(), minlength=dataset.num_classes) for m in masks)
    common = int(np.argmax(counts))
    present = counts > 0
    iou = np.zeros(dataset.num_classes)
    iou[common] = counts[common] / sum(m.size - (m == dataset.ignore_index).sum() for m in masks)
    return float(iou[present].mean() * 100)
