"""``swinseg score PRED_DIR GT_DIR``: mIoU of prediction PNGs against annotations, no model involved."""

from __future__ import annotations

import argparse
from pathlib import Path

from swinseg.cli.common import HelpFormatter
from swinseg.data.classes import (
    ClassInfo,
    ade20k_classes,
    cityscapes_classes,
    load_classes_file,
    voc_classes,
)
from swinseg.evaluation.metrics import results_to_markdown
from swinseg.evaluation.results_file import write_results_json
from swinseg.evaluation.score_folder import score_folder

NAMED_CLASSES = {"ade20k": ade20k_classes, "voc": voc_classes, "cityscapes": cityscapes_classes}


def classes_from_arg(value: str) -> ClassInfo:
    """``ade20k`` / ``voc`` / ``cityscapes`` or a classes file (JSON or one name per line)."""
    return NAMED_CLASSES[value]() if value in NAMED_CLASSES else load_classes_file(value)


def run(args: argparse.Namespace) -> int:
    if args.out and Path(args.out).exists() and not args.overwrite:  # before the work, not after
        raise FileExistsError(f"{args.out}: exists already (pass --overwrite to replace it)")
    classes = classes_from_arg(args.classes)
    reduce_zero_label = args.classes == "ade20k" if args.reduce_zero_label is None else args.reduce_zero_label
    results = score_folder(
        args.pred_dir,
        args.gt_dir,
        num_classes=len(classes),
        ignore_index=args.ignore_index,
        reduce_zero_label=reduce_zero_label,
        class_names=classes.names,
        pred_suffix=args.pred_suffix,
        ann_suffix=args.gt_suffix,
        devkit=args.devkit,
    )
    print(results_to_markdown(results))
    print(f"{results['num_images']} images: mIoU {results['mIoU']:.2f}, aAcc {results['aAcc']:.2f}")
    if args.out:
        print(f"wrote {write_results_json(args.out, results, args.overwrite)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="mIoU of existing prediction PNGs against ground truth (no model)",
        description="Score a folder of predicted label PNGs against a folder of annotation PNGs, paired by relative "
        "path and name (mmsegmentation's metric: per-class IoU/Acc/Dice, mIoU over classes present). ADE20K "
        "annotations are reduced (0 ignored, v -> v-1) by default; predictions must be in 0..K-1 label space, as "
        "swinseg predict writes them.",
        epilog="examples:\n"
        "  swinseg score predictions/ data/ade/ADEChallengeData2016/annotations/validation\n"
        "  swinseg score preds/ gts/ --classes my_classes.json --no-reduce-zero-label --out scores.json",
        formatter_class=HelpFormatter,
    )
    p.add_argument("pred_dir", help="folder of predicted label PNGs")
    p.add_argument("gt_dir", help="folder of annotation PNGs")
    p.add_argument("--classes", default="ade20k", help="ade20k, voc, cityscapes or a classes file (.json / .txt)")
    p.add_argument("--reduce-zero-label", action=argparse.BooleanOptionalAction, default=None,
                   help="annotation 0 is 'other' (ignored) and v means class v-1 (default: on for ade20k only)")  # fmt: skip
    p.add_argument("--ignore-index", type=int, default=255)
    p.add_argument("--pred-suffix", default=".png")
    p.add_argument("--gt-suffix", default=".png")
    p.add_argument("--devkit", action="store_true", help="also the ADE20K devkit's mIoU (absent classes count 0)")
    p.add_argument("--out", help="write the full results (per-class rows too) as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=run)
