"""``swinseg score PRED_DIR GT_DIR``: mIoU of prediction PNGs against annotations, no model involved."""

from __future__ import annotations

import argparse

from swinseg.cli.common import HelpFormatter, refuse_existing
from swinseg.cli.scoring import (
    add_folder_options,
    add_statistics_options,
    folder_stats,
)
from swinseg.evaluation.metrics import results_to_markdown
from swinseg.evaluation.results_file import results_of, write_results_json


def run(args: argparse.Namespace) -> int:
    refuse_existing(args.out, args.save_stats, overwrite=args.overwrite)
    stats = folder_stats(args, args.pred_dir, args.gt_dir)
    results = results_of(stats, args.ci, args.n_boot, args.seed, devkit=args.devkit)
    print(results_to_markdown(results))
    ci = f" {results['mIoU_ci'][0]:.2f}-{results['mIoU_ci'][1]:.2f}" if "mIoU_ci" in results else ""
    print(f"{results['num_images']} images: mIoU {results['mIoU']:.2f}{ci}, aAcc {results['aAcc']:.2f}")
    if args.save_stats:
        print(f"wrote {stats.save(args.save_stats, args.overwrite)}")
    if args.out:
        print(f"wrote {write_results_json(args.out, results, args.overwrite)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="mIoU of existing prediction PNGs against ground truth (no model)",
        description="Score a folder of predicted label PNGs against a folder of annotation PNGs, paired by relative "
        "path and name (mmsegmentation's metric: per-class IoU/Acc/Dice, mIoU over classes present). ADE20K "
        "annotations are reduced (0 ignored, v -> v-1) by default; predictions are class indices 0..K-1, as "
        "swinseg predict writes them, or 1..K with --pred-format ade-release; a value that is neither on a labelled "
        "pixel stops with an error naming the file. --ci adds bootstrap intervals over images; --save-stats "
        "keeps the per-image areas for swinseg compare / aggregate.",
        epilog="examples:\n"
        "  swinseg score predictions/ data/ade/ADEChallengeData2016/annotations/validation\n"
        "  swinseg score preds/ gts/ --classes my_classes.json --no-reduce-zero-label --out scores.json\n"
        "  swinseg score release_preds/ data/ade/ADEChallengeData2016/annotations/validation --pred-format ade-release\n"
        "  swinseg score predictions/ .../annotations/validation --ci 0.95 --save-stats a.npz --out a.json",
        formatter_class=HelpFormatter,
    )
    p.add_argument("pred_dir", help="folder of predicted label PNGs")
    p.add_argument("gt_dir", help="folder of annotation PNGs")
    add_folder_options(p)
    add_statistics_options(p)
    p.add_argument("--devkit", action="store_true", help="also the ADE20K devkit's mIoU (absent classes count 0)")
    p.add_argument("--out", help="write the full results (per-class rows too) as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --save-stats if they exist")
    p.set_defaults(run=run)
