"""Options shared by ``score``, ``eval``, ``compare`` and ``leaderboard``: how prediction folders are read, and
the statistics (per-image stats files, bootstrap intervals)."""

from __future__ import annotations

import argparse
from pathlib import Path

from swinseg.data.classes import (
    ClassInfo,
    ade20k_classes,
    cityscapes_classes,
    load_classes_file,
    voc_classes,
)
from swinseg.evaluation.bootstrap import DEFAULT_N_BOOT
from swinseg.evaluation.image_stats import ImageStats
from swinseg.evaluation.score_folder import PRED_FORMATS, score_folder_images

__all__ = [
    "add_folder_options",
    "add_inputs_options",
    "add_statistics_options",
    "classes_from_arg",
    "folder_stats",
    "stats_of",
]

NAMED_CLASSES = {"ade20k": ade20k_classes, "voc": voc_classes, "cityscapes": cityscapes_classes}


def classes_from_arg(value: str) -> ClassInfo:
    """``ade20k`` / ``voc`` / ``cityscapes`` or a classes file (JSON or one name per line)."""
    return NAMED_CLASSES[value]() if value in NAMED_CLASSES else load_classes_file(value)


def add_folder_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classes", default="ade20k", help="ade20k, voc, cityscapes or a classes file (.json / .txt)")
    p.add_argument("--reduce-zero-label", action=argparse.BooleanOptionalAction, default=None,
                   help="annotation 0 is 'other' (ignored) and v means class v-1 (default: on for ade20k only)")  # fmt: skip
    p.add_argument("--ignore-index", type=int, default=255)
    p.add_argument("--pred-suffix", default=".png")
    p.add_argument("--gt-suffix", default=".png")
    p.add_argument("--pred-format", choices=sorted(PRED_FORMATS), default="indices",
                   help="indices: class indices 0..K-1 (what swinseg predict writes); ade-release: 1..K with 0 = "
                   "none (the ADE20K devkit / benchmark server's, swinseg predict --format ade-release)")  # fmt: skip
    p.add_argument("--pred-offset", type=int, default=None, help="subtract this from every prediction value "
                   "(overrides --pred-format; 0 of a file is then 'none')")  # fmt: skip


def folder_stats(args: argparse.Namespace, pred_dir: str, gt_dir: str, progress: bool = True) -> ImageStats:
    """Per-image stats of a prediction folder against annotations, as the folder options say."""
    classes = classes_from_arg(args.classes)
    reduce_zero_label = args.classes == "ade20k" if args.reduce_zero_label is None else args.reduce_zero_label
    offset = args.pred_offset if args.pred_offset is not None else PRED_FORMATS[args.pred_format]
    return score_folder_images(pred_dir, gt_dir, len(classes), args.ignore_index, reduce_zero_label, classes.names,
                               args.pred_suffix, args.gt_suffix, progress=progress, pred_offset=offset)  # fmt: skip


def add_statistics_options(p: argparse.ArgumentParser, save_stats: bool = True) -> None:
    p.add_argument("--ci", type=float, metavar="LEVEL", help="bootstrap confidence intervals over images at this "
                   "level (e.g. 0.95) for mIoU, aAcc, mAcc and every class's IoU")  # fmt: skip
    p.add_argument("--n-boot", type=int, default=DEFAULT_N_BOOT, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    if save_stats:
        p.add_argument("--save-stats", metavar="FILE.npz", help="also write the per-image areas (compare, "
                       "aggregate and new intervals read them without running anything again)")  # fmt: skip


def add_inputs_options(p: argparse.ArgumentParser) -> None:
    """What ``compare`` and ``aggregate`` read: stats files, or prediction folders, or checkpoints."""
    p.add_argument("--gt", metavar="DIR", help="annotation folder: the inputs are prediction folders to score")
    p.add_argument("--data", metavar="ROOT", help="dataset root: the inputs are checkpoints to evaluate")
    p.add_argument("--config", metavar="YAML", help="with --data: training config for checkpoints that carry none")
    p.add_argument("--device", default="auto", help="with --data: auto, cpu, cuda, ...")
    p.add_argument("--force", action="store_true", help="compare despite other dataset fingerprints or inference "
                   "settings (never other images)")  # fmt: skip
    add_folder_options(p)


def stats_of(args: argparse.Namespace, source: str) -> ImageStats:
    """An input of ``compare`` / ``aggregate`` as per-image stats: a ``.npz`` stats file, else a prediction
    folder (with ``--gt``) or a checkpoint (with ``--data``)."""
    if args.gt and args.data:
        raise ValueError("give --gt (prediction folders) or --data (checkpoints), not both")
    if source.endswith(".npz") and Path(source).is_file():
        return ImageStats.load(source)
    if args.gt:
        return folder_stats(args, source, args.gt, progress=False)
    if args.data:
        from swinseg.benchmark.leaderboard import evaluate_checkpoint

        return evaluate_checkpoint(source, args.data, args.config, args.device, progress=False).stats
    raise ValueError(f"{source}: not a stats file (.npz); pass --gt GT for prediction folders or --data ROOT for "
                     "checkpoints")  # fmt: skip
