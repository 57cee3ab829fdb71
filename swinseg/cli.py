"""The ``swinseg`` command line. Errors are one line naming the problem; ``--verbose`` shows the traceback."""

from __future__ import annotations

import argparse
import sys
import traceback

from swinseg.weights import CheckpointError, convert_checkpoint


def _convert(args: argparse.Namespace) -> int:
    path, model = convert_checkpoint(args.src, args.dst, overwrite=args.overwrite)
    cfg = model.swinseg_config
    print(
        f"{args.src} ({model.source_format}) -> {path}: Swin C={cfg.encoder.embed_dim} depths={cfg.encoder.depths} "
        f"window={cfg.encoder.window_size}, decoder={cfg.decoder}, {cfg.num_classes} classes"
        + (f"; dropped {len(model.dropped_keys)} tensors swinseg does not need" if model.dropped_keys else "")
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swinseg", description="Semantic segmentation with Swin Transformers.")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    convert = sub.add_parser(
        "convert",
        help="convert any supported checkpoint to a swinseg checkpoint",
        description="Convert a Swin checkpoint (microsoft ImageNet, Swin-Transformer-Semantic-Segmentation / "
        "mmseg 0.x, mmseg native, timm, Hugging Face UperNet directory, smp UPerNet directory) into a swinseg "
        "checkpoint: one .safetensors file with the weights and the model config.",
        epilog="example: swinseg convert upernet_swin_tiny_ade20k.pth swin_t_upernet.safetensors",
    )
    convert.add_argument("src", help="checkpoint file or Hugging Face / smp model directory")
    convert.add_argument("dst", help="output .safetensors file")
    convert.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    convert.set_defaults(run=_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CheckpointError, ValueError, OSError) as e:
        if args.verbose:
            traceback.print_exc()
        print(f"swinseg {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
