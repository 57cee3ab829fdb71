#!/usr/bin/env python
"""The CPU speed targets: swinseg against its peers, all measured in one run, as JSON lines.

fp32, ``--threads`` threads (2), random weights; a timing is the median of ``--runs`` after ``--warmup`` untimed
ones. Every timing record carries ``fraction_of_limit`` = (GFLOP of the work / seconds) / the GFLOP/s of a
4096x4096 fp32 matmul measured at the start of the run (FLOPs as ``swinseg.benchmark.measure.count_flops`` counts them:
2 per multiply-add of convolutions, matrix products and attention).

    target              what is timed                                                     goal
    0 host              host_info, idle check (load, other processes' CPU), matmul limit -
    1 upernet_inference swinseg UPerNet Swin-T vs Hugging Face UperNet-Swin, batch 1     HF s / swinseg s >= 1.5
    2 unet_inference    swinseg U-Net Swin-T vs smp Unet + timm Swin-T, batch 1          smp s / swinseg s >= 1.5,
                                                                                      fraction_of_limit >= 0.85
    3 upernet_train_step forward + CE (+ 0.4 aux CE), backward, AdamW at batch 2: swinseg, HF s / swinseg s >= 1.5,
                        swinseg with grad checkpointing, HF; fresh processes in turn,    memory swinseg / HF <= 0.6
                        --train-rounds rounds (2), ratios the median over rounds
    4 scaling           whole-image s/MP at --scaling-size over --size; peak memory of   ratio <= 1.15
                        sliding windows at --slide-sizes, one fresh process each
    5 predict_folder    predict_images over N mixed-size JPEGs vs the model alone on the ratio >= 0.95
                        same pre-decoded, pre-resized batches (img/s over img/s); and    (each)
                        evaluate_images over them vs the model alone a batch of one at
                        a time, interleaved
    6 cpu_backends      U-Net Swin-T: --backend bf16 / int8 / compile and onnxruntime vs the fastest backend
                        eager fp32 at 512 and 375x500, interleaved; argmax agreement     agreeing on >= 99 % of
                        with eager; compile: seconds of the first pass at each size      pixels: speed-up > 1
                        (cold cache) and in a fresh process from inductor's disk cache
    7 batched_throughput UPerNet Swin-T at batch 4: swinseg vs HF, interleaved           img/s ratio >= 1.5
    8 upernet_inference_4x3 as 1 at 512x683, the shape at which ADE20K's usual 4:3 photos  HF s / swinseg s >= 1.5
                        reach the network (the recipe's test scale): not a multiple of 32

    python benchmarks/speed_targets.py --out results.jsonl     # the full run; nothing else may use the machine
    python benchmarks/speed_targets.py --targets 1 2 --runs 3
    python benchmarks/speed_targets.py --quick                 # toy models and sizes: the same code paths, seconds

Records go to stdout as they are made (and to ``--out`` at the end), progress to stderr. Memory of training and
of sliding windows is the peak RSS growth of a fresh process (this script with ``--worker``) that builds one
model and does the one job, so that nothing else's memory hides in it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import psutil

from swinseg.core.memory import HUGE_PAGES_ENV

# As the ``swinseg`` command runs: PyTorch's CPU allocator asks for transparent huge pages for large tensors
# (swinseg/core/memory.py). It reads this when torch is imported, so before the import below; the worker
# processes inherit it, and the peers share the processes, so every contender gets the same pages.
# THP_MEM_ALLOC_ENABLE=0 measures without them; the host record says which.
os.environ.setdefault(HUGE_PAGES_ENV, "1")

import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from swinseg import inference
from swinseg.benchmark.measure import (
    MemoryProbe,
    count_flops,
    host_info,
    interleaved_ratio,
    interleaved_seconds,
    measure_latency,
)
from swinseg.benchmark.peers import (
    PeerUnavailable,
    build_huggingface,
    build_smp,
    peer_versions,
)
from swinseg.core.json_values import finite_json
from swinseg.data.classes import default_classes
from swinseg.data.datasets import folder_dataset
from swinseg.data.io import read_image
from swinseg.data.synth import render_scene
from swinseg.data.transforms import eval_transform
from swinseg.evaluation.evaluate import evaluate_images
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import build_model
from swinseg.models.swin import swin_config
from swinseg.predict.inputs import collect_inputs
from swinseg.predict.plan import plan_batches
from swinseg.predict.run import predict_images
from swinseg.training.config import TrainConfig, load_train_config
from swinseg.training.losses import build_loss
from swinseg.training.optim import build_optimizer

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {name: ROOT / f"configs/{name}_swin_t_ade20k_512.yaml" for name in ("upernet", "unet")}
JPEG_SIZES = ((512, 683), (600, 800), (480, 640), (512, 512))  # (H, W) at full size; --quick divides by 8
NAMES = {1: "upernet_inference", 2: "unet_inference", 3: "upernet_train_step", 4: "scaling", 5: "predict_folder",
         6: "cpu_backends", 7: "batched_throughput", 8: "upernet_inference_4x3"}  # fmt: skip
ODD_SIZE = (375, 500)  # target 6's odd size (H, W): not a multiple of 32 or of the window; --quick (40, 56)
FOUR_BY_THREE = (512, 683)  # target 8's (H, W): a 4:3 photo at the recipe's test scale; --quick (64, 85)
TRAIN_NOTE = ("swinseg trains with its recipe's drop path 0.3 and head dropout 0.1; the HF peer is built with "
              "none (a little less work for HF). Memory: peak RSS growth from just before the first step.")
Emit = Callable[[dict], dict]


def say(message: str) -> None:
    print(f"[speed_targets] {message}", file=sys.stderr, flush=True)


def load_config(name: str, quick: bool) -> TrainConfig:
    """The Swin-T recipe ``name``; with ``quick`` its model shrunk to swin_toy with 8-32 channel heads."""
    cfg = load_train_config(CONFIGS[name])
    if quick:
        m = cfg.model
        head = {"channels": 16} if m.decoder == "upernet" else {"decoder_channels": [32, 16, 16, 8, 8]}
        cfg.model = replace(m, encoder=swin_config("swin_toy"), decoder_args={**m.decoder_args, **head},
                            aux_args={**m.aux_args, "channels": 8})  # fmt: skip
    return cfg


def rate(gflop: float, seconds: float, limit: float) -> dict:
    """The fields every timing record carries: the work, its time, its rate and that rate over the matmul limit."""
    per_s = gflop / seconds
    return {"gflop": gflop, "seconds": seconds, "gflops_per_s": per_s, "fraction_of_limit": per_s / limit}


def check(measured: float | None, op: str, goal: float) -> bool:
    return measured is not None and math.isfinite(measured) and (measured >= goal if op == ">=" else measured <= goal)


def in_subprocess(job: dict) -> dict:
    """Run ``job`` in a fresh Python process (this script with ``--worker``) and return the JSON it prints."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # its stderr (progress, errors) passes through
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        why = " (killed: out of memory?)" if proc.returncode < 0 else ""
        return {"error": f"worker exited with status {proc.returncode}{why}"}
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------------------------------------
# 0: the host
# ----------------------------------------------------------------------------------------------------------


def idle_check(seconds: float) -> dict:
    """The 1-minute load average, and the CPU used by every other process during a ``seconds`` sample (psutil;
    100 % = one core). ``warning`` names the processes that used more than 10 % of a core."""
    me = psutil.Process()
    mine = {me.pid} | {c.pid for c in me.children(recursive=True)}
    others = [p for p in psutil.process_iter(["name"]) if p.pid not in mine]
    for p in others:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(seconds)
    usage = {}
    for p in others:
        try:
            usage[f"{p.info['name']}[{p.pid}]"] = p.cpu_percent(None)
        except psutil.Error:
            pass
    busiest = dict(sorted(((k, v) for k, v in usage.items() if v > 0), key=lambda kv: -kv[1])[:5])
    record = {"load_avg_1min": os.getloadavg()[0], "sample_s": seconds,
              "others_cpu_percent": round(sum(usage.values()), 1), "busiest_others": busiest}  # fmt: skip
    busy = {k: v for k, v in busiest.items() if v > 10}
    if busy:
        record["warning"] = f"other processes used more than 10 % of a core during the sample: {busy}"
    return record


def matmul_limit(n: int, warmup: int, runs: int) -> dict:
    """GFLOP/s of an (n, n) @ (n, n) fp32 matmul into a preallocated output: 2 n^3 FLOPs / median seconds."""
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    for _ in range(max(warmup, 1)):
        torch.mm(a, b, out=c)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {"n": n, "runs": runs, "seconds": median, "gflops_per_s": 2 * n**3 / median / 1e9}


# ----------------------------------------------------------------------------------------------------------
# 1, 2: inference against a peer
# ----------------------------------------------------------------------------------------------------------


def inference_vs_peer(target: int, cfg: TrainConfig, peer: str, size: tuple[int, int], args: argparse.Namespace,
                      limit: float, emit: Emit) -> dict:  # fmt: skip
    """Batch-1 forward passes of one random (1, 3, H, W) image in eval mode under ``inference_mode``,
    swinseg's model and the peer's (same architecture) timed **interleaved** (``interleaved_ratio``: one pass of
    each per round, so that a host whose speed drifts slows both alike). Ratio = the median over rounds of peer
    seconds / swinseg's in the same round, with its min and max; memory from one more pass each."""
    builders = {"swinseg": lambda c: (build_model(c), f"swinseg {c.decoder}", []),
                peer: build_huggingface if peer == "huggingface" else build_smp}  # fmt: skip
    models, labels, skipped = {}, {}, {}
    for impl, build in builders.items():
        torch.manual_seed(0)
        try:
            model, label, notes = build(cfg.model)
        except (PeerUnavailable, ImportError) as e:
            skipped[impl] = str(e)
            continue
        models[impl], labels[impl] = model, (label, notes)
    say(f"target {target}: {' and '.join(models)} at {size[0]}x{size[1]}, {args.runs} interleaved rounds")
    timing = interleaved_ratio(models, size, "swinseg", args.warmup, args.runs) if "swinseg" in models else None
    fractions: dict[str, float] = {}
    for impl in builders:
        if impl in skipped or timing is None:
            emit({"target": target, "name": NAMES[target], "impl": impl,
                  "skipped": skipped.get(impl, "swinseg's model could not be built")})  # fmt: skip
            continue
        model = models[impl]
        memory = measure_latency(model, size, 1, 0, 1)  # the memory fields (one more pass)
        seconds = statistics.median(timing["seconds"][impl])
        record = rate(count_flops(model, size) / 1e9, seconds, limit)
        fractions[impl] = record["fraction_of_limit"]
        emit({"target": target, "name": NAMES[target], "impl": impl, "model": labels[impl][0], "size": list(size),
              "notes": labels[impl][1], **memory, "runs": args.runs, "warmup": args.warmup, "interleaved": True,
              "latency_ms_p50": 1000 * seconds, "latency_ms_min": 1000 * min(timing["seconds"][impl]),
              "img_per_s": 1 / seconds, **record})  # fmt: skip
    models.clear()
    spread = timing["ratio"][peer] if timing is not None and peer in timing["ratio"] else None
    ratio = spread["median"] if spread else None
    emit({"target": target, "name": NAMES[target], "kind": "ratio", "of": f"{peer} s / swinseg s", "ratio": ratio,
          "ratio_min": spread["min"] if spread else None, "ratio_max": spread["max"] if spread else None,
          "rounds": args.runs})  # fmt: skip
    why = {"skipped": f"{peer}: {skipped[peer]}"} if peer in skipped else {}
    if target != 2:
        return {"measured": ratio, "goal": 1.5, "met": check(ratio, ">=", 1.5), **why}
    fraction = fractions.get("swinseg")
    return {"measured": ratio, "goal": 1.5, "fraction_of_limit": fraction, "fraction_goal": 0.85,
            "met": check(ratio, ">=", 1.5) and check(fraction, ">=", 0.85), **why}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# 3: a training step (each implementation in its own process)
# ----------------------------------------------------------------------------------------------------------


def train_worker(job: dict) -> dict:
    """In a fresh process: build the model and a random batch (labels in [0, K), 5 % set to the ignore index),
    then ``warmup`` untimed steps (at least one), ``runs`` timed, and one more under ``FlopCounterMode`` (FLOPs
    of forward + backward, recomputation included; after the memory window, which it would inflate). A step:
    zero_grad, forward with the loss (main + weighted auxiliary cross-entropy), backward, AdamW step. Memory:
    peak RSS growth from just before the first step (activations, gradients, optimizer state, workspace)."""
    cfg = load_config("upernet", job["quick"])
    torch.manual_seed(0)
    n, size, k, ignore = job["batch"], job["size"], cfg.model.num_classes, cfg.data.ignore_index
    loss_flops = [0]  # emptied for the counted step
    images = torch.randn(n, 3, size, size)
    labels = torch.randint(0, k, (n, size, size))
    labels[torch.rand(n, size, size) < 0.05] = ignore
    if job["impl"] == "huggingface":
        model = build_huggingface(cfg.model)[0].model
        model.config.auxiliary_loss_weight, model.config.loss_ignore_index = cfg.model.aux_loss_weight, ignore

        def loss_of() -> torch.Tensor:
            return model(pixel_values=images, labels=labels).loss
    else:
        model = build_model(cfg.model)
        model.set_grad_checkpointing(job["impl"] == "swinseg_checkpointing")  # encoder and decode head
        loss_fn = build_loss(cfg, ignore)

        def loss_of() -> torch.Tensor:
            logits, aux = model(images)
            if not loss_flops:  # the counted step: the loss's own FLOPs too (its resizes are matrix products)
                with FlopCounterMode(display=False) as loss_counter:
                    loss = loss_fn(logits, labels) + cfg.model.aux_loss_weight * loss_fn(aux, labels)
                loss_flops.append(loss_counter.get_total_flops())
                return loss
            return loss_fn(logits, labels) + cfg.model.aux_loss_weight * loss_fn(aux, labels)

    optimizer = build_optimizer(model, cfg.optim)  # swinseg's AdamW (no decay on norms, position tables) for both

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_of().backward()
        optimizer.step()

    model.train()
    probe = MemoryProbe("cpu")
    probe.start()
    for _ in range(max(job["warmup"], 1)):  # the first step allocates AdamW's state: inside the memory window
        step()
    seconds = []
    for _ in range(job["runs"]):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    memory = probe.stop()
    # FLOPs last, outside the memory window: under FlopCounterMode a checkpointed step holds far more memory
    loss_flops.clear()
    with FlopCounterMode(display=False) as counter:
        step()
    return {"warmup": job["warmup"], "runs": job["runs"], "seconds": statistics.median(seconds),
            "all_seconds": seconds, "gflop": counter.get_total_flops() / 1e9, "loss_gflop": sum(loss_flops) / 1e9,
            **memory}  # fmt: skip


def train_step(args: argparse.Namespace, limit: float, emit: Emit) -> dict:
    """Seconds per training step at batch 2 and the step's peak memory: swinseg, swinseg with activation
    checkpointing, Hugging Face (its ``labels=`` loss, auxiliary head included); see :func:`train_worker`. Each
    runs in a fresh process, ``--train-rounds`` times in turn (swinseg, checkpointing, HF, swinseg, ...), so that
    a host whose speed drifts slows all alike; a ratio is the median over rounds of the ratio within a round."""
    impls = ("swinseg", "swinseg_checkpointing", "huggingface")
    rounds: list[dict[str, dict]] = []
    problems = {}
    for r in range(args.train_rounds):
        done = {}
        for impl in impls:
            say(f"target 3: {impl} training steps at batch 2, {args.size}x{args.size} (own process, round {r + 1})")
            job = {"job": "train", "impl": impl, "quick": args.quick, "batch": 2, "size": args.size,
                   "warmup": args.warmup, "runs": args.runs, "threads": args.threads}  # fmt: skip
            result = in_subprocess(job)
            if "seconds" in result:
                result.update(rate(result["gflop"], result["seconds"], limit))
                done[impl] = result
            else:
                problems[impl] = result.get("skipped") or result.get("error")
            emit({"target": 3, "name": NAMES[3], "impl": impl, "round": r, "batch": 2, "size": [args.size] * 2,
                  **result})  # fmt: skip
        rounds.append(done)

    def ratios(impl: str) -> dict:
        """Median, min and max over rounds of HF s / ``impl`` s and of ``impl`` memory / HF memory."""
        both = [d for d in rounds if impl in d and "huggingface" in d]
        times = [d["huggingface"]["seconds"] / d[impl]["seconds"] for d in both]
        memory = [d[impl]["rss_growth_mb"] / d["huggingface"]["rss_growth_mb"] for d in both
                  if d[impl].get("rss_growth_mb") and d["huggingface"].get("rss_growth_mb")]  # fmt: skip

        def spread(values: list[float]) -> tuple[float | None, float | None, float | None]:
            return (statistics.median(values), min(values), max(values)) if values else (None, None, None)

        return {"time": spread(times), "memory": spread(memory)}

    ours, ckpt = ratios("swinseg"), ratios("swinseg_checkpointing")
    time_ratio, memory_ratio = ours["time"][0], ours["memory"][0]
    ckpt_time, ckpt_memory = ckpt["time"][0], ckpt["memory"][0]
    emit({"target": 3, "name": NAMES[3], "kind": "ratio", "of": "HF s / swinseg s; swinseg memory / HF memory",
          "rounds": len(rounds), "time_ratio": time_ratio, "time_ratio_min": ours["time"][1],
          "time_ratio_max": ours["time"][2], "memory_ratio": memory_ratio, "memory_ratio_min": ours["memory"][1],
          "memory_ratio_max": ours["memory"][2], "checkpointing_time_ratio": ckpt_time,
          "checkpointing_memory_ratio": ckpt_memory, "notes": TRAIN_NOTE})  # fmt: skip
    return {"measured": time_ratio, "goal": 1.5, "memory_ratio": memory_ratio, "memory_goal": 0.6,
            "met": check(time_ratio, ">=", 1.5) and check(memory_ratio, "<=", 0.6),
            "checkpointing_time_ratio": ckpt_time, "checkpointing_memory_ratio": ckpt_memory,
            "checkpointing_met": check(ckpt_time, ">=", 1.5) and check(ckpt_memory, "<=", 0.6),
            **({"skipped": problems} if problems else {})}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# 4: cost against image size; sliding-window memory (each size in its own process)
# ----------------------------------------------------------------------------------------------------------


def slide_worker(job: dict) -> dict:
    """In a fresh process: build the model and a random (1, 3, S, S) image, then once (no warmup) time
    ``inference.<fn>`` from the image to labels (``slide_inference``'s logits are argmaxed); memory: the peak RSS
    growth during that call. FLOPs: windows x FLOPs of one crop."""
    cfg = load_config("upernet", job["quick"])
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    s, crop, stride = job["size"], tuple(job["crop"]), tuple(job["stride"])
    image = torch.randn(1, 3, s, s)
    probe = MemoryProbe("cpu")
    probe.start()
    start = time.perf_counter()
    with torch.inference_mode():
        out = getattr(inference, job["fn"])(model, image, cfg.model.num_classes, crop, stride)
        labels = out.argmax(1) if out.ndim == 4 else out
    seconds = time.perf_counter() - start
    memory = probe.stop()
    windows = len(inference.window_starts(s, crop[0], stride[0])) * len(inference.window_starts(s, crop[1], stride[1]))
    return {"seconds": seconds, "windows": windows, "labels_shape": list(labels.shape),
            "gflop": windows * count_flops(model, crop) / 1e9, **memory}  # fmt: skip


def scaling(args: argparse.Namespace, limit: float, emit: Emit) -> dict:
    """Whole-image seconds per megapixel of swinseg UPerNet at ``--size`` and ``--scaling-size`` (``measure_latency``,
    batch 1); then sliding windows (crop, stride 2/3 of it) at each ``--slide-sizes``, with ``slide_inference``
    and, where the library has it, ``slide_labels``, each measurement in its own process (:func:`slide_worker`)."""
    cfg = load_config("upernet", args.quick)
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    s_per_mp = []
    for size in (args.size, args.scaling_size):
        say(f"target 4: whole image {size}x{size}")
        measured = measure_latency(model, size, 1, args.warmup, args.runs)
        seconds = measured["latency_ms_p50"] / 1000
        s_per_mp.append(seconds / (size * size / 1e6))
        emit({"target": 4, "name": NAMES[4], "impl": "swinseg", "mode": "whole", **measured,
              "s_per_mp": s_per_mp[-1], **rate(count_flops(model, size) / 1e9, seconds, limit)})  # fmt: skip
    del model
    ratio = s_per_mp[1] / s_per_mp[0]
    emit({"target": 4, "name": NAMES[4], "kind": "ratio", "of": f"s/MP at {args.scaling_size} / s/MP at {args.size}",
          "ratio": ratio})  # fmt: skip
    crop = args.crop
    stride = inference.default_stride((crop, crop))
    slide_memory: dict[str, dict[int, float | None]] = {}  # function -> size -> peak RSS growth (MB)
    for fn in [f for f in ("slide_inference", "slide_labels") if hasattr(inference, f)]:
        for size in args.slide_sizes:
            logits_gb = 2 * cfg.model.num_classes * size * size * 4 / 2**30  # the logits map and its average
            if fn == "slide_inference" and logits_gb > psutil.virtual_memory().total / 2**30 / 3:
                emit({"target": 4, "name": NAMES[4], "impl": "swinseg", "mode": fn, "size": [size] * 2,
                      "skipped": f"needs about {logits_gb:.0f} GB for its logits alone"})  # fmt: skip
                continue
            say(f"target 4: {fn} at {size}x{size}, crop {crop}, stride {stride[0]} (own process, 1 run)")
            job = {"job": "slide", "fn": fn, "quick": args.quick, "size": size, "crop": [crop] * 2,
                   "stride": list(stride), "threads": args.threads}  # fmt: skip
            result = in_subprocess(job)
            if "seconds" in result:
                result.update(rate(result["gflop"], result["seconds"], limit))
            emit({"target": 4, "name": NAMES[4], "impl": "swinseg", "mode": fn, "size": [size] * 2, **result})
            slide_memory.setdefault(fn, {})[size] = result.get("rss_growth_mb")
    return {"measured": ratio, "goal": 1.15, "met": check(ratio, "<=", 1.15), "slide_rss_growth_mb": slide_memory}


# ----------------------------------------------------------------------------------------------------------
# 5: predicting a folder of JPEGs against the model alone
# ----------------------------------------------------------------------------------------------------------


def predict_folder(args: argparse.Namespace, limit: float, emit: Emit) -> dict:
    """Writes ``--images`` JPEGs of mixed sizes (synthetic scenes) with their annotations, then times, interleaved:
    ``predict_images`` as the CLI calls it (whole mode, the recipe's test scale, batch 4, 2 decoding workers, label
    PNGs written, everything inside the call) against the model alone (forward passes under ``inference_mode`` on
    the pre-decoded, pre-resized tensors, in the batches predict_images plans); and ``evaluate_images`` as ``swinseg
    eval`` calls it (one image at a time, decoding, scoring) against the model alone one image at a time. Ratios
    = img/s over the model-only img/s."""
    cfg = load_config("upernet", args.quick)
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    scale = (2 * args.size, args.size) if args.quick else tuple(cfg.data.scale)
    divide = 8 if args.quick else 1
    batch_size, n = 4, args.images
    classes, inference_cfg = default_classes(cfg.model.num_classes), InferenceConfig("whole", tuple(cfg.data.crop_size))
    with tempfile.TemporaryDirectory(prefix="speed_targets_") as tmp:
        folder, annotations = Path(tmp) / "images", Path(tmp) / "annotations"
        folder.mkdir()
        annotations.mkdir()
        for i in range(n):
            h, w = JPEG_SIZES[i % len(JPEG_SIZES)]
            image, label = render_scene(i, (h // divide, w // divide))
            Image.fromarray(image).save(folder / f"{i:03d}.jpg", quality=90)
            Image.fromarray(label).save(annotations / f"{i:03d}.png")
        items = collect_inputs([str(folder)])
        transform = eval_transform(scale)
        tensors = [transform(image=read_image(path))["image"] for path, _ in items]
        plan = plan_batches([tuple(t.shape[1:]) for t in tensors], batch_size, alone=lambda size: False)
        batches = [torch.stack([tensors[i] for i in b]) for b in plan]
        gflop = sum(count_flops(model, tuple(t.shape[1:])) for t in tensors) / 1e9
        dataset = folder_dataset(folder, annotations, classes, reduce_zero_label=True, transform=transform,
                                 transform_mask=False, progress=False)  # fmt: skip

        def model_only(images: list[torch.Tensor]) -> Callable[[], None]:
            def run() -> None:
                with torch.inference_mode():
                    for batch in images:
                        model(batch)

            return run

        def predict() -> None:
            summary = predict_images(model, items, Path(tmp) / "out", classes, inference_cfg, scale=scale,
                                     batch_size=batch_size, num_workers=2, overwrite=True, progress=False)  # fmt: skip
            if summary.written != n or summary.failed:
                raise RuntimeError(f"predict_images: {summary.line()} {summary.failed}")

        def evaluate() -> None:
            stats = evaluate_images(model, dataset, inference_cfg, progress=False)
            if len(stats.images) != n:
                raise RuntimeError(f"evaluate_images scored {len(stats.images)} of {n} images")

        # interleaved, as the peers are: one call of each per round, in alternating order, so that a host whose
        # speed drifts slows all alike
        say(f"target 5: predict_images and evaluate_images over {n} images against the model alone, {args.runs} "
            "interleaved rounds")  # fmt: skip
        contenders = {"model_only": model_only(batches), "predict_images": predict,
                      "model_only_batch_1": model_only([t[None] for t in tensors]), "evaluate_images": evaluate}
        seconds = interleaved_seconds(contenders, args.warmup, args.runs, alternate=True)
        for impl, times in seconds.items():
            median = statistics.median(times)
            emit({"target": 5, "name": NAMES[5], "impl": impl, "images": n,
                  "batches": len(batches) if impl in ("model_only", "predict_images") else n,
                  "shapes": sorted({tuple(t.shape[1:]) for t in tensors}), "warmup": args.warmup, "runs": args.runs,
                  "interleaved": True, "img_per_s": n / median, "all_seconds": times,
                  **rate(gflop, median, limit)})  # fmt: skip
    ratios = {}
    for what, base in (("predict_images", "model_only"), ("evaluate_images", "model_only_batch_1")):
        per_round = [m / p for m, p in zip(seconds[base], seconds[what])]
        ratios[what] = statistics.median(per_round)
        emit({"target": 5, "name": NAMES[5], "kind": "ratio", "of": f"{what} img/s / {base} img/s",
              "ratio": ratios[what], "ratio_min": min(per_round), "ratio_max": max(per_round)})  # fmt: skip
    return {"measured": ratios["predict_images"], "evaluate_images": ratios["evaluate_images"], "goal": 0.95,
            "met": check(ratios["predict_images"], ">=", 0.95) and check(ratios["evaluate_images"], ">=", 0.95)}


# ----------------------------------------------------------------------------------------------------------
# 6: CPU deployment backends of the U-Net Swin-T against eager fp32
# ----------------------------------------------------------------------------------------------------------


class OnnxRuntimeLogits(torch.nn.Module):
    """The model exported to ONNX (dynamic sizes, ``swinseg.export.onnx``) and run by onnxruntime's CPU provider
    with ``threads`` intra-op threads; forward maps a tensor to a tensor like the model."""

    def __init__(self, model: torch.nn.Module, folder: Path, threads: int):
        super().__init__()
        import onnxruntime

        from swinseg.export.onnx import INPUT_NAME, export_onnx

        path = export_onnx(model, folder / "model.onnx", size=(64, 64), dynamic=True)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = INPUT_NAME

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {self.input_name: images.numpy()})[0])


@contextlib.contextmanager
def _restore_env(name: str) -> Iterator[None]:
    """Put the environment variable ``name`` back as it was (or unset) when the block ends, however it ends."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if before is not None:
            os.environ[name] = before


def first_pass_seconds(model: torch.nn.Module, size: tuple[int, int]) -> float:
    """Seconds of one forward pass of a random (1, 3, H, W) image under ``inference_mode`` (for a compiled model
    the first pass at a size: tracing, code generation and the C++ build, or loading them from the cache)."""
    image = torch.randn(1, 3, *size)
    start = time.perf_counter()
    with torch.inference_mode():
        model(image)
    return time.perf_counter() - start


def compile_worker(job: dict) -> dict:
    """In a fresh process (inductor's disk cache as the job's environment left it): the U-Net's first compiled
    pass at ``size``, i.e. what a second ``swinseg predict --backend compile`` pays before its first image."""
    from swinseg.inference.backends import prepare_backend

    cfg = load_config("unet", job["quick"])
    torch.manual_seed(0)
    compiled = prepare_backend(build_model(cfg.model).eval(), "compile")
    return {"seconds": first_pass_seconds(compiled, tuple(job["size"]))}


def cpu_backends(args: argparse.Namespace, limit: float, emit: Emit) -> dict:
    """U-Net Swin-T (random weights) run by each ``swinseg.inference.backends`` backend and by onnxruntime,
    timed interleaved with eager fp32 at ``--size`` and at an odd size (``ODD_SIZE``); per backend the speed-up
    (eager s / backend s, median over rounds) and the pixels whose argmax agrees with eager's on one random
    image (random weights make near-ties common: a trained model agrees more; the README has the demo's mIoU).
    ``compile`` first compiles at each size into an empty inductor cache (timed), then a fresh process compiles
    the same model and size again from that cache (timed). ``--quick`` leaves ``compile`` out (a minute of
    compiling per size even for the toy model; tests/inference/test_backends.py covers it)."""
    from swinseg.inference.backends import BACKENDS, cpu_has_native_bf16, prepare_backend

    cfg = load_config("unet", args.quick)
    torch.manual_seed(0)
    eager = build_model(cfg.model).eval()
    results: dict[str, dict] = {}
    agreements: dict[str, dict] = {}
    compile_s: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="speed_targets_onnx_") as tmp, _restore_env("TORCHINDUCTOR_CACHE_DIR"):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(tmp) / "inductor")  # cold: nothing compiled yet
        backends = [name for name in BACKENDS if not (args.quick and name == "compile")]
        if len(backends) < len(BACKENDS):
            emit({"target": 6, "name": NAMES[6], "impl": "compile", "skipped": "--quick leaves compile out"})
        models = {name: prepare_backend(eager, name) for name in backends}
        try:
            models["onnxruntime"] = OnnxRuntimeLogits(eager, Path(tmp), args.threads)
        except ImportError as e:
            emit({"target": 6, "name": NAMES[6], "impl": "onnxruntime", "skipped": str(e)})
        odd = (40, 56) if args.quick else ODD_SIZE
        for size in ((args.size, args.size), odd):
            key = f"{size[0]}x{size[1]}"
            if "compile" in models:
                say(f"target 6: compiling at {key} (cold cache), then again in a fresh process (warm cache)")
                cold = first_pass_seconds(models["compile"], size)
                job = {"job": "compile", "quick": args.quick, "size": list(size), "threads": args.threads}
                warm = in_subprocess(job).get("seconds")
                compile_s[key] = {"cold_s": cold, "warm_cache_fresh_process_s": warm}
                emit({"target": 6, "name": NAMES[6], "impl": "compile", "kind": "compile_time", "size": list(size),
                      **compile_s[key]})  # fmt: skip
            say(f"target 6: {', '.join(models)} at {size[0]}x{size[1]}, {args.runs} interleaved rounds")
            timing = interleaved_ratio(models, size, "eager", args.warmup, args.runs)
            image = torch.randn(1, 3, *size)
            with torch.inference_mode():
                reference = eager(image).argmax(1)
                agreement = {n: (m(image).argmax(1) == reference).float().mean().item() for n, m in models.items()}
            for name in models:
                speedup = 1 / timing["ratio"][name]["median"]
                results.setdefault(name, {})[key] = speedup
                agreements.setdefault(name, {})[key] = agreement[name]
                emit({"target": 6, "name": NAMES[6], "impl": name, "size": list(size), "runs": args.runs,
                      "latency_ms_p50": 1000 * statistics.median(timing["seconds"][name]),
                      "speedup_vs_eager": speedup, "speedup_min": 1 / timing["ratio"][name]["max"],
                      "speedup_max": 1 / timing["ratio"][name]["min"], "pixel_agreement": agreement[name]})  # fmt: skip
    # the goal: some backend beats eager at every size while agreeing with it on >= 99 % of the pixels
    faithful = [n for n in results if n != "eager" and min(agreements[n].values()) >= 0.99] or ["eager"]
    best = max(faithful, key=lambda n: min(results[n].values()))
    speedup = min(results[best].values())
    return {"measured": speedup, "goal": 1.0, "met": best != "eager" and speedup > 1.0,
            "fastest": best, "speedups": results, "pixel_agreement": agreements, "compile_seconds": compile_s,
            "native_bf16": cpu_has_native_bf16()}  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# 7: throughput at batch 4 against Hugging Face
# ----------------------------------------------------------------------------------------------------------


def batched_throughput(args: argparse.Namespace, limit: float, emit: Emit) -> dict:
    """img/s of UPerNet Swin-T forward passes on a (4, 3, size, size) batch, swinseg (eager fp32, what
    ``predict --batch-size 4`` and ``eval`` run per batch) and Hugging Face, interleaved round by round."""
    cfg = load_config("upernet", args.quick)
    torch.manual_seed(0)
    models = {"swinseg": build_model(cfg.model).eval()}
    try:
        models["huggingface"] = build_huggingface(cfg.model)[0].eval()
    except (PeerUnavailable, ImportError) as e:
        emit({"target": 7, "name": NAMES[7], "impl": "huggingface", "skipped": str(e)})
        return {"measured": None, "met": False, "skipped": str(e)}
    batch = torch.randn(4, 3, args.size, args.size)
    say(f"target 7: swinseg and huggingface at batch 4, {args.size}x{args.size}, {args.runs} interleaved rounds")
    with torch.inference_mode():
        work = {name: (lambda m=model: m(batch)) for name, model in models.items()}
        seconds = interleaved_seconds(work, args.warmup, args.runs)
    for name, times in seconds.items():
        emit({"target": 7, "name": NAMES[7], "impl": name, "batch": 4, "size": [args.size] * 2,
              "img_per_s": 4 / statistics.median(times), "all_seconds": times,
              **rate(4 * count_flops(models[name], args.size) / 1e9, statistics.median(times), limit)})  # fmt: skip
    per_round = [hf / ours for hf, ours in zip(seconds["huggingface"], seconds["swinseg"])]
    ratio = statistics.median(per_round)
    emit({"target": 7, "name": NAMES[7], "kind": "ratio", "of": "swinseg img/s / huggingface img/s at batch 4",
          "ratio": ratio, "ratio_min": min(per_round), "ratio_max": max(per_round)})  # fmt: skip
    return {"measured": ratio, "goal": 1.5, "met": check(ratio, ">=", 1.5)}


# ----------------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", nargs="+", type=int, choices=sorted(NAMES), default=sorted(NAMES))
    p.add_argument("--runs", type=int, default=None, help="timed repetitions (5; --quick 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    p.add_argument("--threads", type=int, default=2, help="torch threads, in every process")
    p.add_argument("--size", type=int, default=None, help="square image side (512; --quick 64)")
    p.add_argument("--train-rounds", type=int, default=None,
                   help="target 3: fresh processes of each contender in turn, this many rounds (2; --quick 1)")
    p.add_argument("--scaling-size", type=int, default=None, help="target 4's large whole image (2048; --quick 128)")
    p.add_argument("--slide-sizes", nargs="+", type=int, default=None,
                   help="target 4's sliding-window image sides (1024 2048 4096; --quick 128)")
    p.add_argument("--images", type=int, default=None, help="JPEGs of target 5 (16; --quick 2)")
    p.add_argument("--quick", action="store_true", help="swin_toy models at tiny sizes: checks the code paths")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON lines here (atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: one job in a fresh process
    args = p.parse_args(argv)
    if args.out is not None and args.out.exists() and not args.overwrite:
        p.error(f"{args.out} exists already (pass --overwrite to replace it)")
    quick = args.quick
    defaults = {"runs": 1 if quick else 5, "train_rounds": 1 if quick else 2, "size": 64 if quick else 512,
                "scaling_size": 128 if quick else 2048,
                "slide_sizes": [128] if quick else [1024, 2048, 4096], "images": 2 if quick else 16}  # fmt: skip
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.crop = 64 if quick else 512
    args.matmul_n = 1024 if quick else 4096
    args.idle_s = 0.5 if quick else 2.0
    if args.runs < 1 or args.warmup < 0 or args.threads < 1 or args.train_rounds < 1:
        p.error("need --runs >= 1, --train-rounds >= 1, --warmup >= 0 and --threads >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        job = json.loads(args.worker)
        torch.set_num_threads(job["threads"])
        try:
            result = {"train": train_worker, "slide": slide_worker, "compile": compile_worker}[job["job"]](job)
        except (PeerUnavailable, ImportError) as e:  # a peer that is not installed: say so, the run goes on
            result = {"skipped": str(e)}
        print(json.dumps(result), flush=True)
        return 0
    torch.set_num_threads(args.threads)
    lines: list[str] = []

    def emit(record: dict) -> dict:
        lines.append(json.dumps(finite_json(record), allow_nan=False, default=str))
        print(lines[-1], flush=True)
        return record

    say("host, idle check and matmul limit")
    emit({"target": 0, "kind": "host", "quick": args.quick, **host_info("cpu"), "peers": peer_versions()})
    emit({"target": 0, "kind": "idle_check", **idle_check(args.idle_s)})
    limit_record = emit({"target": 0, "kind": "matmul_limit", **matmul_limit(args.matmul_n, args.warmup, args.runs)})
    limit = limit_record["gflops_per_s"]
    square = (args.size, args.size)
    four_by_three = (64, 85) if args.quick else FOUR_BY_THREE
    upernet, unet = load_config("upernet", args.quick), load_config("unet", args.quick)
    run = {1: lambda: inference_vs_peer(1, upernet, "huggingface", square, args, limit, emit),
           2: lambda: inference_vs_peer(2, unet, "smp", square, args, limit, emit),
           3: lambda: train_step(args, limit, emit), 4: lambda: scaling(args, limit, emit),
           5: lambda: predict_folder(args, limit, emit), 6: lambda: cpu_backends(args, limit, emit),
           7: lambda: batched_throughput(args, limit, emit),
           8: lambda: inference_vs_peer(8, upernet, "huggingface", four_by_three, args, limit, emit)}  # fmt: skip
    summary = []
    for target in sorted(set(args.targets)):
        start = time.perf_counter()
        try:
            result = run[target]()
        except Exception as e:  # noqa: BLE001 - one target's failure (out of memory, ...) must not stop the others
            traceback.print_exc()
            emit({"target": target, "name": NAMES[target], "error": f"{type(e).__name__}: {e}"})
            result = {"measured": None, "met": False, "error": f"{type(e).__name__}: {e}"}
        summary.append({"target": target, "name": NAMES[target], **result,
                        "wall_s": round(time.perf_counter() - start, 1)})  # fmt: skip
        say(f"target {target} done in {summary[-1]['wall_s']} s: measured {result.get('measured')}")
    emit({"kind": "summary", "targets": summary})
    if args.out is not None:
        from swinseg.core.atomic_write import atomic_write

        atomic_write(args.out, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"), overwrite=args.overwrite)
        say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
