"""``swinseg train CONFIG``: train (or resume) a model from a YAML recipe; ``torchrun ... -m swinseg train`` for DDP."""

from __future__ import annotations

import argparse
from pathlib import Path

from swinseg.cli.common import HelpFormatter, parse_overrides
from swinseg.training.config import load_train_config
from swinseg.training.loop import train


def run(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.set)
    if args.work_dir is not None:
        overrides["work_dir"] = args.work_dir
    cfg = load_train_config(args.config, overrides)
    last = Path(cfg.work_dir) / "last.pt"
    resume_from = None
    if args.resume == "":  # bare --resume: the run directory's own last.pt must exist
        if not last.is_file():
            raise ValueError(f"{last}: no checkpoint to resume from (drop --resume to start the run)")
    elif args.resume is not None:
        resume_from = args.resume
    if resume_from is None and last.is_file():
        print(f"resuming {cfg.work_dir} from {last}")
    result = train(cfg, progress=not args.quiet, resume_from=resume_from)
    if result.last_eval is not None:
        print(f"done: {result.iter} iterations, best mIoU {result.best_miou:.2f}, last mIoU "
              f"{result.last_eval['mIoU']:.2f}; model: {Path(cfg.work_dir) / 'best.safetensors'}")  # fmt: skip
    else:
        print(f"{cfg.work_dir} had already finished its {result.iter} iterations")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (resumes an interrupted run)",
        description="Train from a YAML recipe (see configs/). The run directory gets config.yaml, last.pt (the "
        "full training state, every checkpoint_every iterations), best.safetensors (the best model so far, with "
        "its config and classes inside) and metrics.jsonl. A run whose last.pt exists continues from it.",
        epilog="examples:\n"
        "  swinseg train configs/upernet_swin_t_ade20k_512.yaml --set data.root=data/ade/ADEChallengeData2016\n"
        "  swinseg train configs/demo_cpu.yaml --set max_iters=100 optim.lr=5e-4 --work-dir runs/try\n"
        "  swinseg train configs/upernet_swin_t_ade20k_512.yaml --resume       # insist on continuing\n"
        "  torchrun --nproc_per_node=8 -m swinseg train configs/upernet_swin_t_ade20k_512.yaml  # 8 GPUs",
        formatter_class=HelpFormatter,
    )
    p.add_argument("config", help="training config (YAML)")
    p.add_argument("--set", nargs="+", metavar="KEY=VALUE", help="override config values (dotted keys, YAML values)")
    p.add_argument("--work-dir", help="run directory (default: the config's work_dir)")
    p.add_argument("--resume", nargs="?", const="", metavar="CKPT",
                   help="continue from the run's last.pt (an error if there is none), or from the given last.pt")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
