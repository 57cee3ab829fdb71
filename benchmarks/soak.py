"""Does memory grow with the number of images? A soak of ``predict_images`` and ``evaluate_images`` on the CPU.

Writes ``--images`` synthetic ADE20K scenes (``swinseg.data.synth.generate_ade20k``) of four sizes (96x128,
128x128, 160x120 and 200x150, height x width) into one folder under shuffled names, so that the sizes are
interleaved, about one in six saved again as PNG (the rest stay JPEG), with their annotations beside them. A toy
Swin UPerNet (``swin_toy``, window 4, 150 classes, random weights) then

- A, predict: ``predict_images`` over the whole folder (``collect_inputs``), whole mode, test scale ``--scale``
  (256 128), batch 4, 2 decoding workers, label PNGs and overlays written to a temp folder, as the CLI does;
- B, evaluate: ``evaluate_images`` over the same images and annotations (ADE20K's 150 classes, zero label
  reduced, ``eval_transform(scale)``, ``InferenceConfig()``).

While each phase runs, a background thread samples this process's RSS every 0.2 s together with the number of
images done so far: for A the overlays already in the output folder (an image's overlay is written after its
labels, atomically), for B the samples the dataset has handed out. The first 10 % of the images are warm-up;
over the rest a least-squares line of RSS (MB) against images done (each count of images done weighted once)
gives the slope in MB per 100 images, with its standard error, and a second line through the lowest RSS of each
tenth of the images gives the floor's slope. The verdict is "no growth" when both phases' slopes are below 1 MB
per 100 images in absolute value. The RSS summed over the DataLoader's worker processes is reported beside it
for A (``workers_*``), for information only.

Why 1000 images by default: RSS jumps between allocator levels some 20-40 MB apart as the image sizes change
(freed buffers of recent sizes are kept), so over a few hundred images the slope's standard error is about
1 MB per 100 images, the size of the limit, and the first 10 % are not always enough warm-up; over 1000 it is
0.3-0.4.

What is expected to grow: ``evaluate_images`` keeps one row of per-image areas (3 x 150 uint32, 1.8 kB) and the
file's name per image, under 0.2 MB per 100 images; nothing in ``predict_images`` should.

Prints one JSON document: the host, the number of images, for each phase the slope (with its standard error and
the floor's slope), RSS at the start, at the end and its peak, the seconds, and up to 100 of the samples as
[images done, RSS MB], then the verdict; progress on stderr. ``--out FILE`` also writes it (atomically; an
existing FILE is kept unless ``--overwrite``).

    python benchmarks/soak.py                                   # 1000 images: about 75 s on 2 vCPUs
    python benchmarks/soak.py --images 300 --out /tmp/soak.json  # a quick look (noisy slopes)
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import numpy as np
import psutil
import torch
from PIL import Image

from swinseg.core.atomic_write import atomic_write
from swinseg.data.classes import ade20k_classes
from swinseg.data.datasets import SegmentationDataset
from swinseg.data.synth import generate_ade20k
from swinseg.data.transforms import eval_transform
from swinseg.evaluation.evaluate import evaluate_images
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from swinseg.predict import collect_inputs, predict_images

SIZES = ((96, 128), (128, 128), (160, 120), (200, 150))  # (height, width)
PNG_SHARE = 1 / 6  # images saved again as PNG
INTERVAL = 0.2  # seconds between RSS samples
MAX_POINTS = 100  # samples kept in the report
GROWTH_LIMIT = 1.0  # MB per 100 images
MB = 2**20


def log(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


def host_info() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1)}  # fmt: skip


def make_images(work: Path, count: int, seed: int) -> tuple[Path, Path, list[tuple[Path, Path]]]:
    """``count`` synthetic scenes of mixed sizes and formats in ``work/images``, annotations in ``work/masks``."""
    per_size = [count // len(SIZES) + (i < count % len(SIZES)) for i in range(len(SIZES))]
    sources: list[tuple[Path, Path]] = []
    for k, ((h, w), n) in enumerate(zip(SIZES, per_size)):
        if n == 0:
            continue
        root = generate_ade20k(work / f"synth_{h}x{w}", num_train=0, num_val=n, size=(h, w), seed=seed + k,
                               progress=False)  # fmt: skip
        images = sorted((root / "images" / "validation").glob("*.jpg"))
        sources += [(p, root / "annotations" / "validation" / f"{p.stem}.png") for p in images]
    rng = random.Random(seed)
    names = list(range(len(sources)))
    rng.shuffle(names)  # interleaves the sizes in file (and so batch) order
    as_png = set(rng.sample(range(len(sources)), round(len(sources) * PNG_SHARE)))
    img_dir, mask_dir = work / "images", work / "masks"
    img_dir.mkdir()
    mask_dir.mkdir()
    pairs = []
    for i, (image, mask) in enumerate(sources):
        stem = f"scene_{names[i]:05d}"
        if i in as_png:
            target = img_dir / f"{stem}.png"
            Image.open(image).convert("RGB").save(target)
        else:
            target = img_dir / f"{stem}.jpg"
            shutil.copyfile(image, target)
        shutil.copyfile(mask, mask_dir / f"{stem}.png")
        pairs.append((target, mask_dir / f"{stem}.png"))
    return img_dir, mask_dir, sorted(pairs)


class Sampler:
    """RSS (this process, and its children summed) with the images done, every ``INTERVAL`` seconds."""

    def __init__(self, done: Callable[[], int]):
        self.done, self.process = done, psutil.Process()
        self.samples: list[tuple[float, int, float, float]] = []  # (seconds, images done, RSS MB, children MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def sample(self) -> None:
        rss = self.process.memory_info().rss / MB
        children = 0.0
        for child in self.process.children(recursive=True):
            try:
                children += child.memory_info().rss / MB
            except psutil.Error:  # a worker that just ended
                pass
        self.samples.append((time.perf_counter() - self.start, self.done(), rss, children))

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            self.sample()

    def __enter__(self) -> Self:
        self.start = time.perf_counter()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def mb(value: float) -> float | None:
    """Rounded for the report; None for NaN (not valid JSON)."""
    return None if np.isnan(value) else round(float(value), 3)


def line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of the least-squares line through (x, y), and its standard error (NaN where undefined)."""
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan"), float("nan")
    (b, a), dx = np.polyfit(x, y, 1), x - x.mean()
    residual = y - (a + b * x)
    return float(b), float(np.sqrt(residual @ residual / (len(x) - 2) / (dx @ dx)))


def slopes(points: np.ndarray) -> dict:
    """MB per 100 images of (images done, MB) points.

    slope: the least-squares line through every count of images done, weighted once (its samples' mean), so
        that a stall (a slow batch, a busy core) does not weigh more; stderr: its standard error, as if the
        points were independent (they are not: the allocator's levels last several images, so take it as a
        lower bound).
    floor_slope: the line through the lowest RSS of each tenth of the images: the allocator keeps freed buffers
        of the last image sizes for a while, which makes RSS jump between levels tens of MB apart; a leak raises
        the floor too.
    """
    done = np.unique(points[:, 0])
    mean = np.array([points[points[:, 0] == d, 1].mean() for d in done])
    slope, stderr = line(done, mean)
    edges = np.linspace(done[0], done[-1] + 1, 11) if len(done) else []
    bins = [(points[:, 0] >= lo) & (points[:, 0] < hi) for lo, hi in itertools.pairwise(edges)]
    floor = np.array([[points[b, 0].mean(), points[b, 1].min()] for b in bins if b.any()]).reshape(-1, 2)
    return {"slope_mb_per_100_images": mb(slope * 100), "slope_stderr_mb_per_100_images": mb(stderr * 100),
            "floor_slope_mb_per_100_images": mb(line(floor[:, 0], floor[:, 1])[0] * 100),
            "fit_image_counts": len(done)}  # fmt: skip


def summarize(sampler: Sampler, count: int, seconds: float, warmup: float, workers: bool) -> dict:
    s = np.array(sampler.samples)  # columns: seconds, images done, RSS, children
    fit = s[s[:, 1] >= warmup * count]
    keep = np.unique(np.linspace(0, len(s) - 1, min(MAX_POINTS, len(s))).round().astype(int))
    out = {
        **slopes(fit[:, [1, 2]]),
        "rss_start_mb": round(float(s[0, 2]), 1),
        "rss_end_mb": round(float(s[-1, 2]), 1),
        "rss_peak_mb": round(float(s[:, 2].max()), 1),
        "seconds": round(seconds, 1),
        "images_done": int(s[-1, 1]),
        "fit_samples": len(fit),
    }
    if workers:
        alive = fit[fit[:, 3] > 0]  # before the workers start and after they end, nothing to measure
        out["workers_slope_mb_per_100_images"] = slopes(alive[:, [1, 3]])["slope_mb_per_100_images"]
        out["workers_rss_peak_mb"] = round(float(s[:, 3].max()), 1)
    out["samples"] = [[int(s[i, 1]), round(float(s[i, 2]), 1)] for i in keep]
    return out


class CountedDataset(SegmentationDataset):
    """A SegmentationDataset that counts the samples it has handed out."""

    handed_out = 0

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        sample = super().__getitem__(key)
        self.handed_out += 1
        return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000, help="images predicted and evaluated (default 1000)")
    parser.add_argument("--scale", type=int, nargs=2, default=(256, 128), metavar=("LONG", "SHORT"),
                        help="test scale the images are fitted into (default 256 128)")  # fmt: skip
    parser.add_argument("--warmup", type=float, default=0.1, help="share of the images left out of the fit (0.1)")
    parser.add_argument("--seed", type=int, default=0, help="scenes, names and model weights")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON document here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    args = parser.parse_args()
    if args.images < 20:
        parser.error("--images: at least 20")
    if not 0 <= args.warmup < 0.9:
        parser.error("--warmup: a share in [0, 0.9)")
    if args.out is not None and args.out.exists() and not args.overwrite:
        parser.error(f"{args.out} exists already (pass --overwrite to replace it)")

    torch.manual_seed(args.seed)
    scale = tuple(args.scale)
    encoder = swin_config("swin_toy", window_size=4, drop_path_rate=0.0)
    model = build_model(SegmentorConfig(encoder=encoder, decoder="upernet", num_classes=150,
                                        decoder_args={"channels": 16, "dropout": 0.0},
                                        aux_args={"channels": 8, "dropout": 0.0})).eval()  # fmt: skip
    classes = ade20k_classes()
    report: dict = {"benchmark": "soak", "host": host_info(), "images": args.images, "scale": list(scale),
                    "model": "swin_toy UPerNet, window 4, 150 classes, random weights"}  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="swinseg-soak-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        img_dir, _, pairs = make_images(work, args.images, args.seed)
        formats = sorted({p.suffix for p, _ in pairs})
        log(f"{len(pairs)} images ({', '.join(formats)}) written in {time.perf_counter() - t:.1f} s")

        out_dir = work / "pred"
        out_dir.mkdir()
        items = collect_inputs([str(img_dir)])

        def overlays_written() -> int:
            with os.scandir(out_dir) as entries:
                return sum(e.name.endswith("_overlay.jpg") for e in entries)

        gc.collect()
        log(f"predict: {len(items)} images, scale {scale}, batch 4, 2 workers, labels + overlays")
        with Sampler(overlays_written) as sampler:
            summary = predict_images(model, items, out_dir, classes, InferenceConfig(), scale=scale, batch_size=4,
                                     overlay=True, num_workers=2, progress=False)  # fmt: skip
        if summary.failed or summary.written != len(items):
            raise SystemExit(f"predict wrote {summary.written} of {len(items)} images; failed: {summary.failed[:3]}")
        report["predict"] = summarize(sampler, len(items), summary.seconds, args.warmup, workers=True)
        log(f"predict: {summary.seconds:.1f} s, slope {report['predict']['slope_mb_per_100_images']} MB/100 images")

        dataset = CountedDataset(pairs, classes, reduce_zero_label=True, transform=eval_transform(scale),
                                 transform_mask=False, name="soak", progress=False)  # fmt: skip
        gc.collect()
        log(f"evaluate: {len(dataset)} images")
        with Sampler(lambda: dataset.handed_out) as sampler:
            t = time.perf_counter()
            stats = evaluate_images(model, dataset, InferenceConfig(), progress=False)
            seconds = time.perf_counter() - t
        report["evaluate"] = summarize(sampler, len(dataset), seconds, args.warmup, workers=False)
        report["evaluate"]["mIoU"] = round(float(stats.metrics()["mIoU"]), 2)
        log(f"evaluate: {seconds:.1f} s, slope {report['evaluate']['slope_mb_per_100_images']} MB/100 images")

    phase_slopes = [report[phase]["slope_mb_per_100_images"] for phase in ("predict", "evaluate")]
    report["verdict"] = "no growth" if all(s is not None and abs(s) < GROWTH_LIMIT for s in phase_slopes) else "grows"
    text = json.dumps(report, indent=1)
    print(text)
    if args.out is not None:
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(text + "\n"), overwrite=args.overwrite)
        log(f"written to {args.out}")


if __name__ == "__main__":
    main()
