"""``swinseg eval CHECKPOINT --data ROOT``: mIoU of a model on a dataset split, with the per-class table."""

from __future__ import annotations

import argparse
import time

import torch

from swinseg.cli.common import HelpFormatter, refuse_existing
from swinseg.cli.scoring import add_statistics_options
from swinseg.core.processes import DistInfo, distributed
from swinseg.core.stopping import StopSignals
from swinseg.data.config import SPLITS
from swinseg.evaluation.evaluate import evaluate_images
from swinseg.evaluation.metrics import results_to_markdown
from swinseg.evaluation.provenance import provenance
from swinseg.inference.backends import BACKENDS, prepare_backend
from swinseg.evaluation.results_file import results_of, write_results_json
from swinseg.training.config import load_with_recipe, recipe_validation_set


def run(args: argparse.Namespace) -> int:
    refuse_existing(args.out, args.save_stats, overwrite=args.overwrite)
    with distributed(args.device) as (info, device):  # under torchrun: joined here, left at the end
        return _evaluate(args, info, device)


def _evaluate(args: argparse.Namespace, info: DistInfo, device: torch.device) -> int:
    loaded = load_with_recipe(args.checkpoint, args.config, str(device))
    layout = args.dataset or loaded.data.dataset
    if layout == "folder":
        raise ValueError("folder datasets are evaluated through --config (its data.val_images / data.val_masks)")
    dataset = recipe_validation_set(loaded, args.data, layout, args.split, progress=info.is_main)
    inference = loaded.inference.with_overrides(args.mode, args.crop, args.stride, args.tta)
    record = provenance([mask for _, mask in dataset.pairs], loaded.path, inference.to_dict())
    start = time.perf_counter()
    with StopSignals() as stop:
        model = prepare_backend(loaded.model, args.backend)
        stats = evaluate_images(model, dataset, inference, info=info, provenance=record, stop=stop)
    seconds = time.perf_counter() - start
    if not info.is_main:
        return 0
    results = results_of(stats, args.ci, args.n_boot, args.seed, devkit=args.devkit)
    results["settings"] = {"checkpoint": str(loaded.path), "data": args.data, "split": args.split or
                           SPLITS[layout][1], "mode": inference.mode, "crop": inference.crop_size,
                           "stride": inference.stride, "tta": inference.tta, "backend": args.backend,
                           "seconds": round(seconds, 2)}  # fmt: skip
    print(results_to_markdown(results))
    print(f"{dataset.name}: {results['num_images']} images, mIoU {results['mIoU']:.2f}, mAcc {results['mAcc']:.2f}, "
          f"aAcc {results['aAcc']:.2f} ({inference.mode}{', multi-scale + flip' if inference.tta else ''}; "
          f"{seconds:.1f} s)")  # fmt: skip
    if args.save_stats:
        print(f"wrote {stats.save(args.save_stats, args.overwrite)}")
    if args.out:
        print(f"wrote {write_results_json(args.out, results, args.overwrite)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint on a dataset (per-class table + mIoU)",
        description="Evaluate a model as mmsegmentation does: each image resized to the test scale (the recipe's "
        "data.scale, (2048, 512) for ADE20K), predicted whole or with sliding windows, the prediction resized "
        "back to the annotation. A swinseg checkpoint carries its recipe and classes; a foreign checkpoint "
        "(mmseg, Hugging Face, smp, ...) is read as ADE20K Swin + UPerNet unless --config names another recipe.",
        epilog="examples:\n"
        "  swinseg eval runs/upernet_swin_t_ade20k_512 --data data/ade/ADEChallengeData2016\n"
        "  swinseg eval upernet_swin_t.safetensors --data data/ade/ADEChallengeData2016 --tta --out val.json\n"
        "  swinseg eval model.safetensors --data data/ade/ADEChallengeData2016 --ci 0.95 --save-stats model.npz\n"
        "  swinseg eval upernet_swin_tiny_patch4_window7_512x512.pth --data data/ade/ADEChallengeData2016\n"
        "  torchrun --nproc_per_node=4 -m swinseg eval model.safetensors --data data/ade/ADEChallengeData2016",
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoint", help="any checkpoint swinseg reads, or a training run directory")
    p.add_argument("--data", required=True, help="dataset root (e.g. .../ADEChallengeData2016)")
    p.add_argument("--dataset", choices=sorted(SPLITS), help="dataset layout (default: the checkpoint's, else ade20k)")
    p.add_argument("--split", help="split to evaluate (default: validation / val)")
    p.add_argument("--config", help="training config giving the architecture / recipe of a foreign checkpoint")
    p.add_argument("--mode", choices=("whole", "slide"), help="whole image or sliding windows (default: the "
                   "checkpoint's inference.mode, whole for the ADE20K recipes)")  # fmt: skip
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"),
                   help="slide window (default: the checkpoint's inference crop, its training crop)")  # fmt: skip
    p.add_argument("--stride", type=int, nargs=2, metavar=("H", "W"), help="slide stride (default: 2/3 of the crop)")
    p.add_argument("--tta", action="store_true", help="multi-scale (0.5-1.75) + flip test-time augmentation")
    add_statistics_options(p)
    p.add_argument("--devkit", action="store_true", help="also the ADE20K devkit's mIoU (absent classes count 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--backend", choices=BACKENDS, default="eager",
                   help="eager (fp32, the reference), bf16 (autocast), int8 (encoder Linear layers; CPU) or compile "
                   "(torch.compile, inductor: minutes of compiling per image size)")
    p.add_argument("--out", help="write the results (summary, per-class rows, settings) as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --save-stats if they exist")
    p.set_defaults(run=run)
