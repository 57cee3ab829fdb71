"""``swinseg aggregate R1 R2 ...``: runs of one recipe (seeds) as papers should report them."""

from __future__ import annotations

import argparse

from swinseg.cli.common import HelpFormatter, refuse_existing
from swinseg.cli.scoring import add_inputs_options, stats_of
from swinseg.evaluation.compare import aggregate_markdown, aggregate_runs
from swinseg.evaluation.results_file import write_results_json


def run(args: argparse.Namespace) -> int:
    refuse_existing(args.out, overwrite=args.overwrite)
    stats = [stats_of(args, source) for source in args.runs]
    aggregate = aggregate_runs(args.runs, stats, args.force)
    print(aggregate_markdown(aggregate), end="")
    if args.out:
        print(f"wrote {write_results_json(args.out, aggregate, args.overwrite)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "aggregate",
        help="several runs of one recipe: median, mean +/- std, min and max of mIoU",
        description="Aggregate N results of the same recipe (seeds) on the same images: mIoU's median, mean, "
        "standard deviation (n - 1), min and max, and per class the IoU's mean and std over runs and the pooled "
        "IoU (areas summed over runs). Inputs as for swinseg compare.",
        epilog="examples:\n  swinseg aggregate seed0.npz seed1.npz seed2.npz seed3.npz seed4.npz --out runs.json\n"
        "  swinseg aggregate runs/seed*/ --data data/ade/ADEChallengeData2016",
        formatter_class=HelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="stats files, prediction folders or checkpoints")
    add_inputs_options(p)
    p.add_argument("--out", metavar="FILE.json", help="write the aggregate as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=run)
