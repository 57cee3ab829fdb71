"""``swinseg data synth OUT``: write the synthetic ADE20K-layout dataset (no download needed)."""

from __future__ import annotations

import argparse

from swinseg.cli.common import HelpFormatter
from swinseg.data.synth import generate_ade20k


def run_synth(args: argparse.Namespace) -> int:
    if len(args.size) not in (1, 2) or min(args.size) < 32:
        raise ValueError(f"--size {' '.join(map(str, args.size))}: give S or H W, each at least 32 pixels")
    size = tuple(args.size) if len(args.size) == 2 else (args.size[0], args.size[0])
    root = generate_ade20k(args.out, args.num, args.num_val, size, args.seed, overwrite=args.overwrite)
    print(f"{root}: {args.num} training and {args.num_val} validation scenes of {size[0]}x{size[1]} "
          f"(ADE20K layout: images/ and annotations/ with training/ and validation/)")  # fmt: skip
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset tools (synth: write the synthetic ADE20K-style dataset)")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="TOOL")
    s = data_sub.add_parser(
        "synth",
        help="write the synthetic ADE20K-style dataset",
        description="Write a deterministic synthetic dataset in the ADE20K release layout "
        "(OUT/ADEChallengeData2016/{images,annotations}/{training,validation}): outdoor and indoor scenes drawn "
        "with 20 of ADE20K's classes and its palette. Same seed and size, same files; an interrupted run resumes.",
        epilog="examples:\n"
        "  swinseg data synth data/synth --num 256 --size 128\n"
        "  swinseg train configs/demo_cpu.yaml --set data.root=data/synth/ADEChallengeData2016",
        formatter_class=HelpFormatter,
    )
    s.add_argument("out", help="output folder (ADEChallengeData2016/ is created inside)")
    s.add_argument("--num", type=int, default=64, help="training scenes")
    s.add_argument("--num-val", type=int, default=16, help="validation scenes")
    s.add_argument("--size", type=int, nargs="+", default=[256], metavar="S", help="S (square) or H W in pixels")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--overwrite", action="store_true", help="rewrite existing files / replace another synthetic set")
    s.set_defaults(run=run_synth)
