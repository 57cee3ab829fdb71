"""Does it learn? A small Swin UPerNet and a small Swin U-Net trained on synthetic ADE20K on this machine's CPU.

Prints one JSON document: for each model the validation mIoU / aAcc after every ``--eval-every`` iterations, with
the wall time since training started (evaluation time included), and the chance levels of the validation split:
always answering the commonest training class, and guessing each pixel from the training class frequencies.

    python benchmarks/learning_curve.py                    # defaults: 128 px scenes, 1200 iterations per model
    python benchmarks/learning_curve.py --iters 300 --eval-every 100 --out /tmp/curve   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from swinseg.data.config import DataConfig
from swinseg.data.datasets import ade20k_dataset
from swinseg.data.synth import generate_ade20k
from swinseg.evaluation.metrics import ConfusionMatrix, compute_metrics
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import SwinConfig
from swinseg.training.config import OptimConfig, TrainConfig
from swinseg.training.loop import train

SMALL_SWIN = SwinConfig(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), window_size=7, drop_path_rate=0.1)
MODELS = {
    "upernet": SegmentorConfig(encoder=SMALL_SWIN, decoder="upernet", decoder_args={"channels": 64},
                               aux_args={"channels": 32}),  # fmt: skip
    "unet": SegmentorConfig(encoder=SMALL_SWIN, decoder="unet", decoder_args={"decoder_channels": (64, 32, 16, 16, 8)},
                            aux_args={"channels": 32}),  # fmt: skip
}


def chance_levels(root: Path) -> dict:
    """mIoU of two input-blind predictors on the validation split."""
    train_set, val_set = ade20k_dataset(root, "training", progress=False), ade20k_dataset(root, "validation", progress=False)
    counts = sum(np.bincount(train_set.load_mask(i).ravel(), minlength=256) for i in range(len(train_set)))
    prior = counts[:150] / counts[:150].sum()
    majority = ConfusionMatrix(150)
    val_counts = np.zeros(150)
    for i in range(len(val_set)):
        label = val_set.load_mask(i)
        majority.update(np.full_like(label, int(prior.argmax())), label)
        val_counts += np.bincount(label.ravel(), minlength=256)[:150]
    # guessing class c with probability q_c on pixels of frequency p_c: E[I] ~ N p q, E[U] ~ N (p + q - p q)
    p = val_counts / val_counts.sum()
    iou = np.divide(p * prior, p + prior - p * prior, out=np.full(150, np.nan), where=(p + prior) > 0)
    return {"majority_class_mIoU": compute_metrics(majority)["mIoU"], "prior_guess_mIoU": float(np.nanmean(iou) * 100)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--iters", type=int, default=1200)
    parser.add_argument("--eval-every", type=int, default=150)
    parser.add_argument("--size", type=int, default=128, help="scene size and crop size (pixels)")
    parser.add_argument("--train-scenes", type=int, default=256)
    parser.add_argument("--val-scenes", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=None, help="keep data and runs here (default: a temp dir)")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="swinseg-curve-"))
    root = generate_ade20k(out / "synth", args.train_scenes, args.val_scenes, (args.size, args.size), progress=False)
    report = {
        "benchmark": "learning_curve",
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "torch": torch.__version__},  # fmt: skip
        "data": {"train_scenes": args.train_scenes, "val_scenes": args.val_scenes, "size": args.size},
        "chance": chance_levels(root),
        "models": {},
    }
    for name in args.models:
        data = DataConfig(root=str(root), crop_size=(args.size, args.size), scale=(2 * args.size, args.size),
                          batch_size=args.batch_size, num_workers=1)  # fmt: skip
        cfg = TrainConfig(model=MODELS[name], data=data, optim=OptimConfig(lr=args.lr, warmup_iters=50),
                          work_dir=str(out / f"run_{name}"), max_iters=args.iters, eval_every=args.eval_every,
                          checkpoint_every=args.iters, log_every=50, amp="off", device="cpu")  # fmt: skip
        train(cfg, progress=False)
        records = [json.loads(line) for line in (Path(cfg.work_dir) / "metrics.jsonl").read_text().splitlines()]
        n_params = sum(p.numel() for p in build_model(cfg.model).parameters())
        report["models"][name] = {
            "params_M": round(n_params / 1e6, 3),
            "curve": [{k: round(r[k], 2) for k in ("iter", "elapsed_s", "mIoU", "aAcc")} for r in records if "mIoU" in r],
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
