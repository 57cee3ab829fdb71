"""One ``swinseg benchmark`` run: swinseg's model and (optionally) its peers, measured point by point.

The model comes from a checkpoint (any format ``swinseg eval`` reads) or from a training config (random
weights). With ``peers`` the same architecture is built in Hugging Face transformers and in smp + timm
(:mod:`swinseg.benchmark.peers`) and every measurement runs for each implementation in turn, in this one
process with the same threads. :func:`run_benchmark` returns the records (each also printed as a JSON line as
it is made); what each number means: :mod:`swinseg.benchmark.measure`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from swinseg.benchmark.measure import (
    as_hw,
    count_params,
    host_info,
    measure_latency,
    megapixels,
    model_memory_mb,
    profile_forward,
    scaling_summary,
)
from swinseg.benchmark.peers import PEERS, PeerUnavailable, build_peer, peer_versions
from swinseg.core.errors import first_line
from swinseg.core.json_values import finite_json
from swinseg.core.processes import pick_device
from swinseg.core.progress import progress as progress_bar
from swinseg.core.progress import progress_write
from swinseg.data.config import DataConfig, build_dataset
from swinseg.evaluation.evaluate import evaluate
from swinseg.inference.backends import prepare_backend
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.training.config import load_train_config, load_with_recipe

__all__ = ["BenchmarkOptions", "run_benchmark"]


@dataclass(frozen=True)
class BenchmarkOptions:
    """What to measure: the model (``checkpoint`` and / or ``config``), image sizes and batch sizes, the sizes
    of the scaling fit (empty: none), passes per measurement, peers, a dataset for mIoU, device and threads, and
    the backend swinseg's model runs with (``swinseg.inference.backends``; the peers always run eager fp32)."""

    checkpoint: str | None = None
    config: str | None = None
    sizes: tuple[int | tuple[int, int], ...] = (512, 1024)
    batch_sizes: tuple[int, ...] = (1, 2)
    warmup: int = 1
    runs: int = 5
    scaling: tuple[int | tuple[int, int], ...] = (256, 512, 1024, 2048)
    peers: bool = False
    data: str | None = None
    device: str = "auto"
    threads: int | None = None
    backend: str = "eager"


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
        progress_write(json.dumps(record, allow_nan=False), file=sys.stdout)
        return record


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


def load_subject(options: BenchmarkOptions) -> tuple[nn.Module, SegmentorConfig, DataConfig, str, str]:
    """swinseg's model (on the CPU, eval mode): (model, config, data recipe, name, weights)."""
    if options.checkpoint is not None:
        loaded = load_with_recipe(options.checkpoint, options.config, device="cpu")
        return loaded.model, loaded.config, loaded.data, loaded.path.name, str(loaded.path)
    cfg = load_train_config(options.config)
    return build_model(cfg.model).eval(), cfg.model, cfg.data, Path(options.config).stem, "random"


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


def latency_record(contender: Contender, point: Point, device: torch.device, options: BenchmarkOptions) -> dict:
    """Measure one implementation at one (size, batch): a latency record, or one saying why it was skipped."""
    size, batch = point
    base = {"kind": "latency", "impl": contender.impl, "model": contender.name, "device": str(device),
            "threads": torch.get_num_threads()}  # fmt: skip
    gflops = profile(contender, size)
    try:
        with on_device(contender.model, device) as model:
            measured = measure_latency(model, size, batch, options.warmup, options.runs, device)
    except RuntimeError as e:  # out of memory, a size the implementation refuses, ...
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return {**base, "size": list(size), "batch": batch, "skipped": first_line(e)}
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
    dataset = build_dataset(replace(data, dataset="ade20k", root=str(root)), train=False, progress=False)
    with on_device(model, device):
        start = time.perf_counter()
        metrics = evaluate(model, dataset, InferenceConfig(mode="whole"), progress=True)
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
    options: BenchmarkOptions, log: RecordLog,
) -> dict[tuple[str, Point], dict]:  # fmt: skip
    """Every point for every implementation in turn (interleaved, smallest images first). The requested points'
    records and comparisons are emitted as they come; all results are returned for the scaling fits."""
    results: dict[tuple[str, Point], dict] = {}
    with progress_bar(total=len(points) * len(active), desc="benchmark", unit="run", file=sys.stderr) as bar:
        for point in points:
            for c in active:
                bar.set_postfix_str(f"{c.impl} {point[0][0]}x{point[0][1]} batch {point[1]}")
                results[(c.impl, point)] = record = latency_record(c, point, device, options)
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
                   options: BenchmarkOptions) -> dict:  # fmt: skip
    """Seconds per megapixel and the fitted exponents of one implementation, from its batch-1 results."""
    measured = [results[(c.impl, (size, 1))] for size in scaling]
    measured = [r for r in measured if "skipped" not in r]
    if len(measured) < 2:
        return {"kind": "scaling", "impl": c.impl, "skipped": "fewer than two sizes could be measured"}
    gflops = [c.gflops.get(tuple(r["size"])) for r in measured]
    summary = scaling_summary(measured, gflops if None not in gflops else None)
    return {"kind": "scaling", "impl": c.impl, "model": c.name, "device": str(device),
            "threads": torch.get_num_threads(), "warmup": options.warmup, "runs": options.runs, **summary}  # fmt: skip


def run_benchmark(options: BenchmarkOptions) -> list[dict]:
    """Measure everything ``options`` asks for; the records, in the order they were printed."""
    if options.checkpoint is None and options.config is None:
        raise ValueError("give a checkpoint or a training config to benchmark")
    scaling = sorted({as_hw(s) for s in options.scaling}, key=megapixels)
    if len(scaling) == 1:
        raise ValueError("--scaling needs at least two sizes to fit an exponent (or pass --no-scaling)")
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    device = pick_device(options.device)
    requested: list[Point] = [(as_hw(s), b) for s in options.sizes for b in options.batch_sizes]
    points = sorted(set(requested) | {(s, 1) for s in scaling}, key=lambda p: (megapixels(p[0]), p[1]))

    model, config, data, name, weights = load_subject(options)
    if options.backend != "eager":
        model, name = prepare_backend(model, options.backend), f"{name} --backend {options.backend}"
    log = RecordLog()
    log.emit({"kind": "host", **host_info(device), "versions": peer_versions()})
    contenders = build_contenders(model, name, config, options.peers)
    for c in contenders:
        log.emit(model_record(c, config, weights, points[0][0]))
    active = [c for c in contenders if c.model is not None]
    results = measure_points(active, points, requested, device, options, log)
    for c in active if scaling else ():
        log.emit(scaling_record(c, results, scaling, device, options))
    if options.data is not None:
        log.emit(miou_record(model, data, options.data, name, weights, device))
    return log.records
