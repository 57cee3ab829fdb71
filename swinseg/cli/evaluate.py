"""``swinseg eval CHECKPOINT --data ROOT``: mIoU of a model on a dataset split, with the per-class table."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from swinseg.cli.common import HelpFormatter, load_for_inference
from swinseg.cli.score import write_json_report
from swinseg.data.config import SPLITS, build_dataset
from swinseg.engine.distributed import init_distributed
from swinseg.engine.evaluate import evaluate
from swinseg.engine.inference import TTA_SCALES, default_stride
from swinseg.metrics import results_to_markdown


def run(args: argparse.Namespace) -> int:
    if args.out and Path(args.out).exists() and not args.overwrite:
        raise FileExistsError(f"{args.out}: exists already (pass --overwrite to replace it)")
    info, device = init_distributed(args.device)
    setup = load_for_inference(args.checkpoint, args.config, str(device))
    data = dataclasses.replace(setup.data, root=args.data, dataset=args.dataset or setup.data.dataset)
    if data.dataset == "folder":
        raise ValueError("folder datasets are evaluated through --config (its data.val_images / data.val_masks)")
    dataset = build_dataset(data, train=False, progress=info.is_main, split=args.split)
    if dataset.num_classes != setup.model.swinseg_config.num_classes:
        raise ValueError(f"{args.data}: {dataset.num_classes} classes, but {setup.checkpoint} predicts "
                         f"{setup.model.swinseg_config.num_classes}")  # fmt: skip
    crop = tuple(args.crop) if args.crop else data.crop_size
    stride = tuple(args.stride) if args.stride else default_stride(crop)
    start = time.perf_counter()
    results = evaluate(
        setup.model,
        dataset,
        mode=args.mode,
        crop_size=crop,
        stride=stride,
        scales=TTA_SCALES if args.tta else (1.0,),
        flip=args.tta,
        devkit=args.devkit,
        info=info,
    )
    seconds = time.perf_counter() - start
    if not info.is_main:
        return 0
    results["settings"] = {"checkpoint": str(setup.checkpoint), "data": args.data, "split": args.split or
                           SPLITS[data.dataset][1], "mode": args.mode, "crop": crop, "stride": stride,
                           "tta": args.tta, "seconds": round(seconds, 2)}  # fmt: skip
    print(results_to_markdown(results))
    print(f"{dataset.name}: {results['num_images']} images, mIoU {results['mIoU']:.2f}, mAcc {results['mAcc']:.2f}, "
          f"aAcc {results['aAcc']:.2f} ({args.mode}{', multi-scale + flip' if args.tta else ''}; {seconds:.1f} s)")
    if args.out:
        print(f"wrote {write_json_report(args.out, results, args.overwrite)}")
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
        "  swinseg eval upernet_swin_tiny_patch4_window7_512x512.pth --data data/ade/ADEChallengeData2016\n"
        "  torchrun --nproc_per_node=4 -m swinseg eval model.safetensors --data data/ade/ADEChallengeData2016",
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoint", help="any checkpoint swinseg reads, or a training run directory")
    p.add_argument("--data", required=True, help="dataset root (e.g. .../ADEChallengeData2016)")
    p.add_argument("--dataset", choices=sorted(SPLITS), help="dataset layout (default: the checkpoint's, else ade20k)")
    p.add_argument("--split", help="split to evaluate (default: validation / val)")
    p.add_argument("--config", help="training config giving the architecture / recipe of a foreign checkpoint")
    p.add_argument("--mode", choices=("whole", "slide"), default="whole")
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), help="slide window (default: data.crop_size)")
    p.add_argument("--stride", type=int, nargs=2, metavar=("H", "W"), help="slide stride (default: 2/3 of the crop)")
    p.add_argument("--tta", action="store_true", help="multi-scale (0.5-1.75) + flip test-time augmentation")
    p.add_argument("--devkit", action="store_true", help="also the ADE20K devkit's mIoU (absent classes count 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--out", help="write the results (summary, per-class rows, settings) as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=run)
