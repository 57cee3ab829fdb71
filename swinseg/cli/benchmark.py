"""``swinseg benchmark``: speed, memory, FLOPs and image-size scaling of a model, beside its peers.

The model comes from a checkpoint (any format ``swinseg eval`` reads) or from a training config (random
weights). With ``--peers`` the same architecture is built in Hugging Face transformers and in smp + timm
(:mod:`swinseg.benchmark_peers`) and every measurement runs for each implementation in turn, in this one
process with the same threads. Results are JSON lines on stdout (and ``--out``), then a Markdown table.
Progress goes to stderr. What each number means: :mod:`swinseg.benchmark`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from swinseg.benchmark import (
    as_hw,
    count_params,
    finite_json,
    host_info,
    markdown_table,
    measure_latency,
    megapixels,
    model_memory_mb,
    profile_forward,
    scaling_summary,
)
from swinseg.benchmark_peers import PEERS, PeerUnavailable, build_peer, peer_versions
from swinseg.cli.common import HelpFormatter, load_for_inference, pick_device
from swinseg.data.config import DataConfig
from swinseg.files import atomic_write
from swinseg.models.segmentor import SegmentorConfig, build_model

Point = tuple[tuple[int, int], int]  # ((height, width), batch)


@dataclass
class Contender:
    """One implementation under test: swinseg's model or a peer (``model`` None when it was skipped)."""

    impl: str
    model: nn.Module | None
    name: str
    skipped: str | None = None
    params: int = 0
    inference_params: int | None = None
    gflops: dict[tuple[int, int], float | None] = field(default_factory=dict)  # per image size, batch 1


class RecordLog:
    """Prints each record as a JSON line as soon as it exists, and keeps them for the files and the table."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def emit(self, record: dict) -> dict:
        record = finite_json(record)
        self.records.append(record)
        tqdm.write(json.dumps(record, allow_nan=False), file=sys.stdout)
        return record


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def describe(config: SegmentorConfig) -> str:
    """``Swin C=96 depths=2-2-6-2 heads=3-6-12-24 window=7 + upernet channels=512, 150 classes``."""
    e = config.encoder
    head = " ".join(f"{k}={v}" for k, v in config.decoder_args.items() if k != "dropout")
    return (
        f"Swin C={e.embed_dim} depths={'-'.join(map(str, e.depths))} heads={'-'.join(map(str, e.num_heads))} "
        f"window={e.window_size} + {config.decoder}{' ' + head if head else ''}, {config.num_classes} classes"
    )


@contextlib.contextmanager
def on_device(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """Models wait on the CPU and visit an accelerator one at a time, so that its peak memory is theirs alone."""
    if device.type == "cpu":
        yield model
        return
    model.to(device)
    try:
        yield model
    finally:
        model.to("cpu")
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------------------
# The steps of a run
# ----------------------------------------------------------------------------------------------------------


def load_subject(args: argparse.Namespace) -> tuple[nn.Module, SegmentorConfig, DataConfig, str, str]:
    """swinseg's model (on the CPU, eval mode): (model, config, data recipe, name, weights)."""
    if args.checkpoint is not None:
        setup = load_for_inference(args.checkpoint, args.config, device="cpu")
        return setup.model, setup.model.swinseg_config, setup.data, setup.checkpoint.name, str(setup.checkpoint)
    from swinseg.engine.config import load_train_config

    cfg = load_train_config(args.config)
    return build_model(cfg.model).eval(), cfg.model, cfg.data, Path(args.config).stem, "random"


def profile(contender: Contender, size: tuple[int, int]) -> float | None:
    """GFLOPs per image at ``size`` (cached); None when the implementation cannot run that size."""
    if size not in contender.gflops:
        try:
            result = profile_forward(contender.model, size)
            contender.gflops[size] = result["flops"] / 1e9
            if contender.inference_params is None:
                contender.inference_params = result["inference_params"]
        except (RuntimeError, ValueError):
            contender.gflops[size] = None
    return contender.gflops[size]


def latency_record(contender: Contender, point: Point, device: torch.device, args: argparse.Namespace) -> dict:
    """Measure one implementation at one (size, batch): a latency record, or one saying why it was skipped."""
    size, batch = point
    base = {"kind": "latency", "impl": contender.impl, "model": contender.name, "device": str(device),
            "threads": torch.get_num_threads()}  # fmt: skip
    gflops = profile(contender, size)
    try:
        with on_device(contender.model, device) as model:
            measured = measure_latency(model, size, batch, args.warmup, args.runs, device)
    except RuntimeError as e:  # out of memory, a size the implementation refuses, ...
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return {**base, "size": list(size), "batch": batch, "skipped": _first_line(e)}
    return {
        **base,
        **measured,
        "params_m": contender.params / 1e6,
        "inference_params_m": contender.inference_params / 1e6 if contender.inference_params is not None else None,
        "gflops": gflops,
    }


def comparison_record(ours: dict, peer: dict) -> dict:
    """swinseg against one peer at the same size and batch; ratios > 1 mean swinseg is faster / smaller."""
    ours_mem, peer_mem = model_memory_mb(ours), model_memory_mb(peer)
    return {
        "kind": "comparison",
        "impl": "swinseg",
        "vs": peer["impl"],
        "size": ours["size"],
        "batch": ours["batch"],
        "speedup": ours["img_per_s"] / peer["img_per_s"],
        "latency_ratio": peer["latency_ms_p50"] / ours["latency_ms_p50"],
        "memory_ratio": peer_mem / ours_mem if ours_mem and peer_mem is not None else None,
        "memory_basis": "peak_mem_mb" if "peak_mem_mb" in ours else "rss_growth_mb",
        "gflops_ratio": peer["gflops"] / ours["gflops"] if ours.get("gflops") and peer.get("gflops") else None,
    }


def miou_record(model: nn.Module, data: DataConfig, root: str, name: str, weights: str, device: torch.device) -> dict:
    """mIoU on the validation split of an ADE20K-layout dataset at ``root``, and how long it took."""
    from swinseg.data.config import build_dataset
    from swinseg.engine.evaluate import evaluate

    dataset = build_dataset(replace(data, dataset="ade20k", root=str(root)), train=False, progress=False)
    with on_device(model, device):
        start = time.perf_counter()
        metrics = evaluate(model, dataset, mode="whole", progress=True)
        seconds = time.perf_counter() - start
    return {
        "kind": "miou", "impl": "swinseg", "model": name, "weights": weights, "data": str(root),
        "split": "validation", "mode": "whole", "num_images": metrics["num_images"], "mIoU": metrics["mIoU"],
        "aAcc": metrics["aAcc"], "mAcc": metrics["mAcc"], "eval_s": seconds,
        "img_per_s": metrics["num_images"] / seconds, "device": str(device), "threads": torch.get_num_threads(),
    }  # fmt: skip


def build_contenders(model: nn.Module, name: str, config: SegmentorConfig, peers: bool) -> list[Contender]:
    """swinseg's model, then (with ``peers``) each peer or the reason it cannot be built."""
    contenders = [Contender("swinseg", model, name)]
    for peer in PEERS if peers else ():
        try:
            built = build_peer(peer, config)
            contenders.append(Contender(peer, built, built.peer_name))
        except PeerUnavailable as e:
            contenders.append(Contender(peer, None, "", skipped=str(e)))
    return contenders


def model_record(c: Contender, config: SegmentorConfig, weights: str, size: tuple[int, int]) -> dict:
    """What is being measured: name, architecture, weights, parameters, and how a peer differs."""
    if c.model is None:
        return {"kind": "model", "impl": c.impl, "skipped": c.skipped}
    c.params = count_params(c.model)
    profile(c, size)  # also counts the parameters that run
    return {
        "kind": "model", "impl": c.impl, "model": c.name, "arch": describe(config),
        "weights": weights if c.impl == "swinseg" else "random", "params_m": c.params / 1e6,
        "inference_params_m": c.inference_params / 1e6 if c.inference_params is not None else None,
        "notes": getattr(c.model, "peer_notes", []),
    }  # fmt: skip


def measure_points(
    active: list[Contender], points: list[Point], requested: list[Point], device: torch.device,
    args: argparse.Namespace, log: RecordLog,
) -> dict[tuple[str, Point], dict]:  # fmt: skip
    """Every point for every implementation in turn (interleaved, smallest images first). The requested points'
    records and comparisons are emitted as they come; all results are returned for the scaling fits."""
    results: dict[tuple[str, Point], dict] = {}
    with tqdm(total=len(points) * len(active), desc="benchmark", unit="run", file=sys.stderr) as bar:
        for point in points:
            for c in active:
                bar.set_postfix_str(f"{c.impl} {point[0][0]}x{point[0][1]} batch {point[1]}")
                results[(c.impl, point)] = record = latency_record(c, point, device, args)
                if point in requested:
                    log.emit(record)
                bar.update()
            ours = results[("swinseg", point)]
            for c in active[1:]:
                theirs = results[(c.impl, point)]
                if point in requested and "skipped" not in ours and "skipped" not in theirs:
                    log.emit(comparison_record(ours, theirs))
    return results


def scaling_record(c: Contender, results: dict, scaling: list[tuple[int, int]], device: torch.device,
                   args: argparse.Namespace) -> dict:  # fmt: skip
    """Seconds per megapixel and the fitted exponents of one implementation, from its batch-1 results."""
    measured = [results[(c.impl, (size, 1))] for size in scaling]
    measured = [r for r in measured if "skipped" not in r]
    if len(measured) < 2:
        return {"kind": "scaling", "impl": c.impl, "skipped": "fewer than two sizes could be measured"}
    gflops = [c.gflops.get(tuple(r["size"])) for r in measured]
    summary = scaling_summary(measured, gflops if None not in gflops else None)
    return {"kind": "scaling", "impl": c.impl, "model": c.name, "device": str(device),
            "threads": torch.get_num_threads(), "warmup": args.warmup, "runs": args.runs, **summary}  # fmt: skip


def write_outputs(args: argparse.Namespace, records: list[dict], table: str) -> None:
    if args.out is not None:
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(text), overwrite=args.overwrite)
    if args.markdown is not None:
        atomic_write(args.markdown, lambda tmp: Path(tmp).write_text(table), overwrite=args.overwrite)


def run(args: argparse.Namespace) -> int:
    if args.checkpoint is None and args.config is None:
        args.benchmark_parser.error("give a CHECKPOINT or --config CONFIG.yaml")
    for path in (args.out, args.markdown):  # fail now, not after minutes of measuring
        if path is not None and Path(path).exists() and not args.overwrite:
            raise FileExistsError(f"{path}: exists already (pass --overwrite to replace it)")
    scaling = [] if args.no_scaling else sorted({as_hw(s) for s in args.scaling}, key=megapixels)
    if len(scaling) == 1:
        raise ValueError("--scaling needs at least two sizes to fit an exponent (or pass --no-scaling)")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    requested: list[Point] = [(as_hw(s), b) for s in args.sizes for b in args.batch_sizes]
    points = sorted(set(requested) | {(s, 1) for s in scaling}, key=lambda p: (megapixels(p[0]), p[1]))

    model, config, data, name, weights = load_subject(args)
    log = RecordLog()
    log.emit({"kind": "host", **host_info(device), "versions": peer_versions()})
    contenders = build_contenders(model, name, config, args.peers)
    for c in contenders:
        log.emit(model_record(c, config, weights, points[0][0]))
    active = [c for c in contenders if c.model is not None]
    results = measure_points(active, points, requested, device, args, log)
    for c in active if scaling else ():
        log.emit(scaling_record(c, results, scaling, device, args))
    if args.data is not None:
        log.emit(miou_record(model, data, args.data, name, weights, device))

    table = markdown_table(log.records)
    print("\n" + table, end="")
    write_outputs(args, log.records, table)
    return 0


# ----------------------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def _size(text: str) -> int | tuple[int, int]:
    """``512`` -> 512 (square) or ``512x1024`` -> (512, 1024) (height x width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size like 512 or 512x1024 (height x width)")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="throughput, latency, memory, FLOPs and size scaling (optionally vs Hugging Face and smp)",
        description="Measure a model from a checkpoint, or from a training config with random weights:\n"
        "throughput (img/s) and latency (p50/p90) at each size and batch size, peak memory, parameters, GFLOPs\n"
        "(torch.utils.flop_counter, 2 per multiply-add), and seconds per megapixel across the --scaling sizes with\n"
        "the fitted exponent k of seconds ~ pixels^k (1.0 = linear in image size, the Swin paper's claim).\n"
        "--peers builds the same architecture in Hugging Face transformers (UperNet-Swin) and in smp + timm, and\n"
        "measures each in turn in this process. Output: JSON lines on stdout (and --out), then a Markdown table\n"
        "(and --markdown); progress on stderr. On the CPU, memory is the process's resident set size (RSS).",
        epilog="examples:\n"
        "  swinseg benchmark --config configs/upernet_swin_t_ade20k_512.yaml --sizes 512 --batch-sizes 1 --peers\n"
        "  swinseg benchmark runs/upernet_swin_t_ade20k_512/best.safetensors --data data/ade/ADEChallengeData2016 \\\n"
        "      --out results.jsonl --markdown results.md\n"
        "  swinseg benchmark --config configs/upernet_swin_t_ade20k_512.yaml --sizes 512 --runs 2 \\\n"
        "      --scaling 256 512 1024",
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoint", nargs="?", metavar="CHECKPOINT",
                   help="checkpoint file, Hugging Face / smp directory or training run directory")  # fmt: skip
    p.add_argument(
        "--config", metavar="CONFIG.yaml",
        help="training config: the model with random weights (or the architecture for CHECKPOINT)",
    )  # fmt: skip
    p.add_argument("--sizes", nargs="+", type=_size, default=[512, 1024], metavar="SIZE",
                   help="image sizes for throughput and latency: 512 or HxW like 512x1024")  # fmt: skip
    p.add_argument("--batch-sizes", nargs="+", type=_positive_int, default=[1, 2], metavar="B",
                   help="batch sizes for throughput and latency")  # fmt: skip
    p.add_argument("--warmup", type=_non_negative_int, default=1, help="untimed passes before each measurement")
    p.add_argument("--runs", type=_positive_int, default=5, help="timed passes per measurement")
    p.add_argument(
        "--scaling", nargs="+", type=_size, default=[256, 512, 1024, 2048], metavar="SIZE",
        help="sizes (batch 1) for seconds per megapixel and the scaling exponent",
    )  # fmt: skip
    p.add_argument("--no-scaling", action="store_true", help="skip the scaling sizes")
    p.add_argument(
        "--peers", action="store_true",
        help="also Hugging Face UperNet-Swin and smp + timm Swin of the same architecture (random weights)",
    )  # fmt: skip
    p.add_argument("--data", metavar="ROOT", help="ADE20K-layout dataset: also the validation mIoU and its time")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=_positive_int, help="torch CPU threads (None: torch's choice)")
    p.add_argument("--out", metavar="FILE.jsonl", help="also write the JSON lines here")
    p.add_argument("--markdown", metavar="FILE.md", help="also write the Markdown table here")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --markdown files that exist")
    p.set_defaults(run=run, benchmark_parser=p)
