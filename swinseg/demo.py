"""``swinseg demo``: the whole pipeline on built-in data, on a CPU, in minutes.

1. write the easy synthetic dataset (:func:`swinseg.data.synth.generate_easy`)  -> WORK/data
2. train a small Swin + U-Net on it from scratch (:func:`swinseg.training.loop.train`) -> WORK/run
3. evaluate the best checkpoint on the validation split, and two model-free baselines -> WORK/report/metrics.json
4. segment the validation images as a folder (:mod:`swinseg.predict`)          -> WORK/predictions
5. write a report with pictures and the learning curve (:mod:`swinseg.report`)  -> WORK/report/report.md

Every step resumes: the dataset and the training continue where an interrupted demo stopped, and a finished
training is not repeated. The recipe is the file ``swinseg/recipes/demo_cpu.yaml`` (``configs/demo_cpu.yaml``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from swinseg.benchmark.measure import count_params
from swinseg.checkpoints.loading import LoadedCheckpoint, load_checkpoint
from swinseg.core.atomic_write import atomic_write
from swinseg.data.config import build_dataset
from swinseg.data.io import read_image, read_mask
from swinseg.data.synth import generate_easy
from swinseg.evaluation.baselines import colour_lookup_metrics, commonest_class_metrics
from swinseg.evaluation.evaluate import evaluate
from swinseg.predict import collect_inputs, predict_images
from swinseg.report import Sample, write_report
from swinseg.training.config import TrainConfig, load_train_config
from swinseg.training.loop import train

__all__ = ["DEMO_RECIPE", "demo_config", "run_demo"]

NUM_TRAIN, NUM_VAL, SCENE_SIZE = 256, 32, (128, 128)
DEMO_RECIPE = Path(__file__).parent / "recipes" / "demo_cpu.yaml"


def demo_config(work_dir: str | os.PathLike = "swinseg-demo", max_iters: int | None = None) -> TrainConfig:
    """The demo's recipe, :data:`DEMO_RECIPE` (``configs/demo_cpu.yaml`` links to it), with its data and run
    under ``work_dir``; ``max_iters`` replaces the recipe's iterations (evaluated every fifth of them)."""
    work_dir = Path(work_dir)
    overrides = {"data.root": str(work_dir / "data"), "work_dir": str(work_dir / "run")}
    if max_iters is not None:
        overrides |= {"max_iters": max_iters, "eval_every": max(max_iters // 5, 1),
                      "checkpoint_every": max(max_iters // 5, 1)}  # fmt: skip
    return load_train_config(DEMO_RECIPE, overrides)


@dataclass(frozen=True)
class _Baselines:
    """mIoU of two predictors that learn nothing about shape or texture (:mod:`swinseg.evaluation.baselines`)."""

    commonest_class: float
    colour_lookup: float


def run_demo(work_dir: str | os.PathLike = "swinseg-demo", max_iters: int | None = None, num_train: int = NUM_TRAIN,
             num_val: int = NUM_VAL, progress: bool = True) -> Path:  # fmt: skip
    """Run the five steps (module docstring) in ``work_dir``; returns the path of the report."""
    work_dir = Path(work_dir)
    start = time.perf_counter()
    say = print if progress else (lambda *a, **k: None)

    say(f"[1/5] easy synthetic dataset ({num_train} + {num_val} scenes of 128x128) in {work_dir / 'data'}")
    generate_easy(work_dir / "data", num_train, num_val, SCENE_SIZE, progress=progress)

    cfg = demo_config(work_dir.resolve(), max_iters)  # absolute paths in the checkpoint: it works from any folder
    say(f"[2/5] training a small Swin + U-Net from scratch for {cfg.max_iters} iterations of {cfg.data.batch_size} "
        f"crops on the CPU in {cfg.work_dir}")  # fmt: skip
    t_train = time.perf_counter()
    train(cfg, progress=progress)
    train_minutes = (time.perf_counter() - t_train) / 60

    say("[3/5] evaluating the best checkpoint on the validation split, and two baselines")
    loaded = load_checkpoint(Path(cfg.work_dir) / "best.safetensors", device="cpu")
    val_set = build_dataset(cfg.data, train=False, progress=False)
    results = evaluate(loaded.model, val_set, loaded.inference, progress=progress)
    train_set = build_dataset(cfg.data, train=True, validate=False, progress=False)
    baselines = _Baselines(commonest_class_metrics(train_set, val_set)["mIoU"],
                           colour_lookup_metrics(train_set, val_set)["mIoU"])  # fmt: skip
    report_dir = work_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    record = {**results, "baselines": {"commonest_class_mIoU": baselines.commonest_class,
                                       "colour_lookup_mIoU": baselines.colour_lookup}}  # fmt: skip
    atomic_write(report_dir / "metrics.json", lambda t: Path(t).write_text(json.dumps(record, indent=1)), True)

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
        image_path = val_set.pairs[i][0]
        prediction = read_mask(pred_dir / (Path(image_path).stem + ".png"))
        samples.append(Sample(Path(image_path).name, read_image(image_path), val_set.load_mask(i), prediction))
    log = [json.loads(line) for line in (Path(cfg.work_dir) / "metrics.jsonl").read_text().splitlines() if line]
    details = _details(cfg, loaded, baselines, train_minutes, num_train, len(val_set))
    details += [
        f"predictions: {summary.written + summary.skipped_existing} label PNGs and overlays in `{pred_dir}`",
        f"checkpoint: `{Path(cfg.work_dir) / 'best.safetensors'}` (try `swinseg predict` / `swinseg eval` on it, "
        "or open `notebooks/explore_predictions.ipynb`)",
        f"total time of this demo run: {(time.perf_counter() - start) / 60:.1f} min",
    ]
    path = write_report(report_dir, results, samples, loaded.classes, "swinseg demo report", details,
                        training_log=log)  # fmt: skip
    say(f"mIoU {results['mIoU']:.2f}, aAcc {results['aAcc']:.2f} (baselines: commonest class "
        f"{baselines.commonest_class:.2f}, colour lookup {baselines.colour_lookup:.2f})")  # fmt: skip
    return path


def _details(cfg: TrainConfig, loaded: LoadedCheckpoint, baselines: _Baselines, train_minutes: float,
             num_train: int, num_val: int) -> list[str]:  # fmt: skip
    """The report's lines on what the model is, what it learned from and what its numbers mean."""
    enc = cfg.model.encoder
    depths = "-".join(map(str, enc.depths))
    crop = "x".join(map(str, cfg.data.crop_size))
    return [
        f"model: Swin C={enc.embed_dim} depths {depths} window {enc.window_size} + U-Net decoder "
        f"({count_params(loaded.model) / 1e6:.2f} M parameters), **trained from scratch** (no pretrained weights) "
        f"for {cfg.max_iters} iterations x {cfg.data.batch_size} crops of {crop} in {train_minutes:.1f} min on the "
        "CPU (0 min when the training had already finished)",
        f"data: **synthetic** scenes of 20 ADE20K classes drawn by `swinseg data synth --variant easy`, "
        f"{num_train} for training and {num_val} held-out scenes for validation (never trained on). Each class "
        "has a texture of its own and shares its colours with other classes; objects stand in context (cars on "
        "roads, beds on floors, paintings on walls). **This model knows only these drawings: it is not for real "
        "photos.**",
        f"evaluation: `swinseg eval`'s: mmsegmentation's metrics, whole images at the recipe's test scale "
        f"{tuple(cfg.data.scale)}. Baselines on the same scenes: always the commonest class, mIoU "
        f"{baselines.commonest_class:.2f}; a per-colour lookup fitted on the training scenes, mIoU "
        f"{baselines.colour_lookup:.2f}",
    ]
