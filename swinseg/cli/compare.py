"""``swinseg compare A B [C ...]``: models on the same images against the first, with paired intervals and p."""

from __future__ import annotations

import argparse

from swinseg.cli.common import HelpFormatter, refuse_existing
from swinseg.cli.scoring import (
    add_inputs_options,
    add_statistics_options,
    stats_of,
)
from swinseg.evaluation.bootstrap import DEFAULT_N_PERM
from swinseg.evaluation.compare import (
    compare_models,
    comparison_markdown,
    plot_class_deltas,
)
from swinseg.evaluation.results_file import write_results_json


def run(args: argparse.Namespace) -> int:
    refuse_existing(args.out, args.plot, overwrite=args.overwrite)
    stats = [stats_of(args, source) for source in args.results]
    comparison = compare_models(args.results, stats, args.ci or 0.95, args.n_boot, args.n_perm, args.seed, args.force)
    print(comparison_markdown(comparison), end="")
    if args.out:
        print(f"wrote {write_results_json(args.out, comparison, args.overwrite)}")
    if args.plot:
        print(f"wrote {plot_class_deltas(comparison, args.plot, args.overwrite)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="paired comparison of models on the same images (difference in mIoU, interval, p-value)",
        description="Compare two or more results over the same images against the first: the difference in "
        "mIoU, aAcc and mAcc with a paired bootstrap interval (the same resampled images for both) and an "
        "approximate-randomization p-value (per-image swaps), and every class's IoU difference with its interval. "
        "Inputs are per-image stats files (eval / score --save-stats), prediction folders (--gt), or checkpoints "
        "(--data). Results over other images are refused; other dataset fingerprints or inference settings too, "
        "unless --force.",
        epilog="examples:\n"
        "  swinseg compare a.npz b.npz --out c.json --plot c.png\n"
        "  swinseg compare preds_a/ preds_b/ --gt data/ade/ADEChallengeData2016/annotations/validation\n"
        "  swinseg compare base.safetensors new.safetensors --data data/ade/ADEChallengeData2016",
        formatter_class=HelpFormatter,
    )
    p.add_argument("results", nargs="+", metavar="RESULT", help="stats files, prediction folders or checkpoints")
    add_inputs_options(p)
    add_statistics_options(p, save_stats=False)
    p.add_argument("--n-perm", type=int, default=DEFAULT_N_PERM, help="permutations for the p-value")
    p.add_argument("--out", metavar="FILE.json", help="write the comparison as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="per-class differences as sorted bars with error bars")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --plot if they exist")
    p.set_defaults(run=run)
