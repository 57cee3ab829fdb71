"""``swinseg export CHECKPOINT --onnx model.onnx``: the segmentor as an ONNX graph (images -> logits)."""

from __future__ import annotations

import argparse

from swinseg.cli.args import positive_int
from swinseg.cli.common import HelpFormatter, refuse_existing
from swinseg.export.onnx import (
    DEFAULT_OPSET,
    DYNAMIC_AXES,
    INPUT_NAME,
    OUTPUT_NAME,
    check_onnx,
    check_sizes,
    export_onnx,
    external_data_path,
    require,
)
from swinseg.training.config import load_with_recipe

TOLERANCE = 1e-4  # largest allowed |onnxruntime - PyTorch| on the logits with --check


def run(args: argparse.Namespace) -> int:
    # Fail on what we can know before the (slow) model loading.
    for module in ("onnx", "onnxruntime") if args.check else ("onnx",):
        require(module)
    refuse_existing(args.onnx, overwrite=args.overwrite)
    loaded = load_with_recipe(args.checkpoint, args.config, device="cpu")
    size = (args.size[0], args.size[1])
    path = export_onnx(loaded.model, args.onnx, size=size, dynamic=args.dynamic, opset=args.opset,
                       overwrite=args.overwrite)

    check = "not checked (pass --check)"
    if args.check:
        sizes = check_sizes(size, args.dynamic)
        diff = check_onnx(path, loaded.model, sizes)
        tried = ", ".join(f"{n}x{h}x{w}" for n, h, w in sizes)
        if diff > TOLERANCE:
            raise RuntimeError(f"{path}: onnxruntime differs from PyTorch by {diff:.2e} on {tried} "
                               f"(tolerance {TOLERANCE:.0e})")
        check = f"onnxruntime matches PyTorch (max abs diff {diff:.1e} on {tried})"

    data = external_data_path(path)
    megabytes = (path.stat().st_size + (data.stat().st_size if data.exists() else 0)) / 2**20
    weights = f" + {data.name}" if data.exists() else ""
    channels = loaded.config.encoder.in_chans
    axes = "dynamic " + "/".join(DYNAMIC_AXES.values()) if args.dynamic else f"fixed 1x{channels}x{size[0]}x{size[1]}"
    print(f"{path}{weights}: {megabytes:.1f} MB, {INPUT_NAME} -> {OUTPUT_NAME}, {axes}; {check}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to ONNX (images -> logits)",
        description="Export a segmentor to ONNX.\n\n"
        "  input   'image'   float32 (N, 3, H, W), normalised like the training images\n"
        "  output  'logits'  float32 (N, num_classes, H, W)\n\n"
        "With --dynamic, N, H and W are free: window padding and shifted-window masks are computed inside the\n"
        "graph. Without it the graph takes exactly 1x3xHxW of --size. Needs the optional extra:\n"
        "pip install \"swinseg[onnx]\".",
        epilog="examples:\n"
        "  swinseg export best.safetensors --onnx model.onnx --dynamic --check\n"
        "  swinseg export best.safetensors --onnx model_640.onnx --size 640 640      # fixed 1x3x640x640 input\n"
        "  swinseg export upernet_swin_tiny_patch4_window7_512x512.pth --config configs/upernet_swin_t_ade20k_512.yaml"
        " --onnx model.onnx --dynamic\n"
        "  python -c \"import onnxruntime as ort; s = ort.InferenceSession('model.onnx'); "
        "print(s.get_inputs()[0].shape)\"",
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoint", help="swinseg checkpoint, training run directory or any checkpoint convert reads")
    p.add_argument("--onnx", required=True, metavar="PATH", help="output .onnx file")
    p.add_argument("--config", metavar="CONFIG.yaml", help="training config giving a foreign checkpoint its model")
    p.add_argument("--dynamic", action="store_true", help="symbolic batch, height and width")
    p.add_argument("--size", nargs=2, type=positive_int, default=[512, 512], metavar=("H", "W"),
                   help="example input size that is traced (the only size accepted without --dynamic)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    p.add_argument("--check", action="store_true",
                   help=f"run onnxruntime and PyTorch on random images and fail if logits differ by > {TOLERANCE:g}"
                   " (two sizes with --dynamic)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.set_defaults(run=run)

