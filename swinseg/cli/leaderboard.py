"""``swinseg leaderboard CKPT ... --data ROOT``: several checkpoints on one dataset in one table and picture."""

from __future__ import annotations

import argparse
from pathlib import Path

from swinseg.benchmark.leaderboard import (
    evaluate_checkpoint,
    leaderboard,
    leaderboard_markdown,
    plot_leaderboard,
)
from swinseg.cli.common import HelpFormatter, refuse_existing
from swinseg.cli.scoring import add_statistics_options
from swinseg.core.atomic_write import atomic_write
from swinseg.evaluation.results_file import write_results_json


def run(args: argparse.Namespace) -> int:
    refuse_existing(args.out, args.markdown, args.plot, overwrite=args.overwrite)
    if args.stats_dir:
        Path(args.stats_dir).mkdir(parents=True, exist_ok=True)
    runs = []
    for i, checkpoint in enumerate(args.checkpoints, 1):
        print(f"[{i}/{len(args.checkpoints)}] evaluating {checkpoint}", flush=True)
        run_ = evaluate_checkpoint(checkpoint, args.data, args.config, args.device, args.split)
        if args.stats_dir:
            run_.stats.save(Path(args.stats_dir) / f"{i:02d}_{Path(checkpoint).stem}.npz", overwrite=args.overwrite)
        runs.append(run_)
    board = leaderboard(runs, args.ci or 0.95, args.n_boot, args.seed)
    table = leaderboard_markdown(board)
    print(table, end="")
    if args.out:
        print(f"wrote {write_results_json(args.out, board, args.overwrite)}")
    if args.markdown:
        print(f"wrote {atomic_write(Path(args.markdown), lambda tmp: Path(tmp).write_text(table), args.overwrite)}")
    if args.plot:
        print(f"wrote {plot_leaderboard(board, args.plot, args.overwrite)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="several checkpoints on one dataset: mIoU with intervals, aAcc, mAcc, params, GFLOPs, img/s",
        description="Evaluate every checkpoint on the same dataset (each with its own recipe's test settings) "
        "and rank them: mIoU with its bootstrap interval (default 95 %), aAcc, mAcc, parameters, GFLOPs and "
        "images per second at the evaluation size. Markdown on stdout (--markdown), JSON (--out), a bar chart "
        "with error bars (--plot); notebooks/benchmark.ipynb plots the JSON.",
        epilog="examples:\n"
        "  swinseg leaderboard runs/a/best.safetensors runs/b/best.safetensors --data data/ade/ADEChallengeData2016 \\\n"
        "      --out board.json --markdown board.md --plot board.png --stats-dir stats/",
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="checkpoints or training run directories")
    p.add_argument("--data", required=True, metavar="ROOT", help="dataset root (e.g. .../ADEChallengeData2016)")
    p.add_argument("--split", help="split to evaluate (default: validation / val)")
    p.add_argument("--config", metavar="YAML", help="training config for checkpoints that carry none")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    add_statistics_options(p, save_stats=False)
    p.add_argument("--stats-dir", metavar="DIR", help="also keep each checkpoint's per-image stats (for compare)")
    p.add_argument("--out", metavar="FILE.json", help="write the leaderboard as JSON")
    p.add_argument("--markdown", metavar="FILE.md", help="write the table as Markdown")
    p.add_argument("--plot", metavar="FILE.png", help="write the mIoU bars with error bars as a PNG")
    p.add_argument("--overwrite", action="store_true", help="replace output files that exist")
    p.set_defaults(run=run)
