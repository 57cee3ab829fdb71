"""``swinseg data synth OUT``: write a synthetic ADE20K-layout dataset, hard or easy (no download needed)."""

from __future__ import annotations

import argparse

from swinseg.cli.common import HelpFormatter
from swinseg.data.synth import generate_ade20k, generate_easy


def run_synth(args: argparse.Namespace) -> int:
    if len(args.size) not in (1, 2) or min(args.size) < 32:
        raise ValueError(f"--size {' '.join(map(str, args.size))}: give S or H W, each at least 32 pixels")
    size = tuple(args.size) if len(args.size) == 2 else (args.size[0], args.size[0])
    generate = generate_easy if args.variant == "easy" else generate_ade20k
    root = generate(args.out, args.num, args.num_val, size, args.seed, overwrite=args.overwrite)
    kind = "dataset: ade20k_layout, classes in classes.json" if args.variant == "easy" else "dataset: ade20k"
    print(f"{root}: {args.num} training and {args.num_val} validation {args.variant} scenes of {size[0]}x{size[1]} "
          f"(ADE20K layout: images/ and annotations/ with training/ and validation/; {kind})")  # fmt: skip
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset tools (synth: write the synthetic ADE20K-style dataset)")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="TOOL")
    s = data_sub.add_parser(
        "synth",
        help="write the synthetic ADE20K-style dataset",
        description="Write a deterministic synthetic dataset in the ADE20K release layout: outdoor and indoor "
        "scenes drawn with 20 of ADE20K's classes and its palette. --variant hard (the default; the learning "
        "test and benchmark's) shares textures and colours between classes, so that context must tell them "
        "apart, and writes OUT/ADEChallengeData2016/{images,annotations}/{training,validation} with ADE20K's 150 "
        "labels; --variant easy (the demo's) gives each class a texture of its own, and writes "
        "OUT/{images,annotations}/... with labels 1-20 and OUT/classes.json (dataset type ade20k_layout). "
        "Same seed and size, same files; an interrupted run resumes.",
        epilog="examples:\n"
        "  swinseg data synth data/synth --num 256 --size 128\n"
        "  swinseg train configs/upernet_swin_t_ade20k_512.yaml --set data.root=data/synth/ADEChallengeData2016\n"
        "  swinseg data synth data/easy --variant easy --num 256 --num-val 32 --size 128\n"
        "  swinseg train configs/demo_cpu.yaml --set data.root=data/easy",
        formatter_class=HelpFormatter,
    )
    s.add_argument("out", help="output folder (hard: ADEChallengeData2016/ is created inside)")
    s.add_argument("--num", type=int, default=64, help="training scenes")
    s.add_argument("--num-val", type=int, default=16, help="validation scenes")
    s.add_argument("--size", type=int, nargs="+", default=[256], metavar="S", help="S (square) or H W in pixels")
    s.add_argument("--variant", choices=("hard", "easy"), default="hard", help="hard or easy scenes (see above)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--overwrite", action="store_true", help="rewrite existing files / replace another synthetic set")
    s.set_defaults(run=run_synth)
