"""``swinseg predict CHECKPOINT INPUT... --out DIR``: label PNGs (and overlays, confidence, probabilities) for
image files, folders and glob patterns; the work is done by :mod:`swinseg.predict`.

Under ``torchrun`` each process predicts a strided share of the (same-size) batches, so N processes write the
files one process writes; the summary line, printed once by the main process, counts all of them, and every
process reports its own unreadable files on stderr.
"""

from __future__ import annotations

import argparse
import sys

import torch.distributed as dist

from swinseg.cli.common import HelpFormatter
from swinseg.core.processes import init_distributed
from swinseg.core.stopping import StopSignals
from swinseg.inference.backends import BACKENDS, prepare_backend
from swinseg.predict import collect_inputs, predict_images
from swinseg.predict.writers import LABEL_FORMATS
from swinseg.training.config import load_with_recipe

EXAMPLES = """examples:
  swinseg predict model.safetensors photos/ --out predictions/
  swinseg predict runs/upernet_swin_t_ade20k/ 'shots/**/*.jpg' extra.png --out pred/ --overlay --confidence
  swinseg predict model.safetensors panoramas/ --out pred/ --mode slide --crop 512 512 --stride 341 341
  swinseg predict model.safetensors photos/ --out pred/ --probs --no-resize --batch-size 1
  torchrun --nproc_per_node 4 -m swinseg predict model.safetensors photos/ --out pred/ --device cuda

outputs, for each image (its path below the folder that holds all the inputs, without the suffix):
  DIR/<name>.png             class labels, palette PNG at the image's size (opens in colour, reads as labels)
  DIR/<name>_overlay.jpg     the colours over the image (--overlay)
  DIR/<name>_confidence.png  top-class probability, grey 0-255 (--confidence)
  DIR/<name>_probs.npz       "probs": float16 (classes, H, W) softmax probabilities (--probs)

exit status: 0 all done; 1 some inputs could not be read (each reported as "path: reason") or an error.
"""


def _pair(name: str) -> dict:
    return dict(nargs=2, type=int, metavar=("H", "W"), default=None, help=name)


def run(args: argparse.Namespace) -> int:
    info, device = init_distributed(args.device)
    try:
        items = collect_inputs(args.inputs, exclude=args.out)
        loaded = load_with_recipe(args.checkpoint, args.config, device=str(device))
        inference = loaded.inference.with_overrides(args.mode, args.crop, args.stride, args.tta)
        scale = None if args.no_resize else tuple(args.scale) if args.scale else tuple(loaded.data.scale)
        if info.is_main:
            fit = "native size" if scale is None else f"fit into {scale[0]}x{scale[1]}"
            (crop_h, crop_w), (stride_h, stride_w) = inference.crop_size, inference.stride
            print(
                f"swinseg predict: {len(items)} images, {fit}, mode {inference.mode} (crop {crop_h}x{crop_w}, stride "
                f"{stride_h}x{stride_w}){', TTA' if inference.tta else ''}, {info.world_size} x {device} -> {args.out}",
                file=sys.stderr,
            )
        with StopSignals() as stop:
            summary = predict_images(
                prepare_backend(loaded.model, args.backend),
                items,
                args.out,
                loaded.classes,
                inference,
                scale=scale,
                batch_size=args.batch_size,
                overlay=args.overlay,
                save_probs=args.probs,
                save_confidence=args.confidence,
                overwrite=args.overwrite,
                num_workers=args.workers,
                info=info,
                progress=not args.no_progress,
                label_format=args.format,
                stop=stop,
            )
        if info.is_main:
            print(summary.line(), flush=True)
        return 1 if summary.failed else 0
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict label maps for images, folders and glob patterns",
        description="Segment images with a checkpoint. Preprocessing is the evaluation pipeline (fit into the\n"
        "recipe's test scale keeping the aspect ratio, ImageNet normalisation); the logits are resized back to\n"
        "each image's size and the labels written as palette PNGs. Same-size images go through the model\n"
        "together, large ones in sliding windows. Existing outputs are kept (--overwrite replaces them); an\n"
        "unreadable image is reported and skipped, and makes the exit status 1 once the others are done.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoint", help="checkpoint (any format swinseg reads) or training run directory")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (recursive) and glob patterns")
    p.add_argument("--out", required=True, metavar="DIR", default=argparse.SUPPRESS, help="output folder")
    p.add_argument("--config", default=None, metavar="YAML",
                   help="training config, for a checkpoint that carries none (None: the checkpoint's own)")  # fmt: skip
    p.add_argument("--format", choices=LABEL_FORMATS, default="indices", help="label PNGs: indices (palette PNG of "
                   "0..K-1) or ade-release (grey PNG of 1..K, 0 = other: the ADE20K devkit / benchmark server's)")  # fmt: skip
    p.add_argument("--overlay", action="store_true", help="also write <name>_overlay.jpg")
    p.add_argument("--confidence", action="store_true", help="also write <name>_confidence.png")
    p.add_argument("--probs", action="store_true", help="also write <name>_probs.npz (large: classes x H x W)")
    p.add_argument("--mode", choices=("auto", "whole", "slide"), default="auto",
                   help="auto: sliding windows when the network input exceeds twice the crop in H or W")  # fmt: skip
    p.add_argument("--crop", **_pair("sliding-window size (None: the checkpoint's training crop)"))
    p.add_argument("--stride", **_pair("sliding-window step (None: 2/3 of the crop)"))
    size = p.add_mutually_exclusive_group()
    size.add_argument("--scale", nargs=2, type=int, metavar=("LONG", "SHORT"), default=None,
                      help="fit images into this size keeping the aspect ratio (None: the checkpoint's test "
                      "scale, 2048 512 for ADE20K)")  # fmt: skip
    size.add_argument("--no-resize", action="store_true", help="predict at each image's own resolution")
    p.add_argument("--tta", action="store_true", help="multi-scale (0.5-1.75) + flip test-time augmentation (12 views)")
    p.add_argument("--batch-size", type=int, default=4, help="images of equal size per forward pass")
    p.add_argument("--workers", type=int, default=2, help="image-decoding processes (0: in the main process)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 (under torchrun cuda: a GPU a process)")
    p.add_argument("--backend", choices=BACKENDS, default="eager", help="eager: fp32 (reference); bf16: bfloat16 "
                   "autocast (fast on CPUs with AVX-512 BF16 / AMX); int8: the encoder's Linear layers int8 (CPU); "
                   "compile: torch.compile (inductor), which compiles for minutes at each new image size; "
                   "README 'Speed and memory' has each one's speed and accuracy per chip")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs instead of skipping them")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
