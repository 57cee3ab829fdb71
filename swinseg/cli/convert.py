"""``swinseg convert SRC DST``: any supported checkpoint format to a swinseg checkpoint."""

from __future__ import annotations

import argparse

from swinseg.checkpoints.saving import convert_checkpoint
from swinseg.cli.common import HelpFormatter


def run(args: argparse.Namespace) -> int:
    path, loaded = convert_checkpoint(args.src, args.dst, overwrite=args.overwrite)
    cfg, dropped = loaded.config, loaded.dropped_keys
    print(
        f"{args.src} ({loaded.source_format}) -> {path}: Swin C={cfg.encoder.embed_dim} depths={cfg.encoder.depths} "
        f"window={cfg.encoder.window_size}, decoder={cfg.decoder}, {cfg.num_classes} classes"
        + (f"; dropped {len(dropped)} tensors swinseg does not need" if dropped else "")
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert any supported checkpoint to a swinseg checkpoint",
        description="Convert a Swin checkpoint (microsoft ImageNet, Swin-Transformer-Semantic-Segmentation / "
        "mmseg 0.x, mmseg native, timm, Hugging Face UperNet directory, smp UPerNet directory) into a swinseg "
        "checkpoint: one .safetensors file with the weights and the model config.",
        epilog="examples:\n"
        "  swinseg convert upernet_swin_tiny_patch4_window7_512x512.pth swin_t_upernet.safetensors\n"
        "  swinseg convert ./upernet-swin-tiny/ swin_t_upernet.safetensors   # a Hugging Face model directory",
        formatter_class=HelpFormatter,
    )
    p.add_argument("src", help="checkpoint file or Hugging Face / smp model directory")
    p.add_argument("dst", help="output .safetensors file")
    p.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    p.set_defaults(run=run)
