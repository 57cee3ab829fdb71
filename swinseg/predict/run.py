"""Predicting label maps for image files: the library behind ``swinseg predict``.

Two steps:

1. :func:`~swinseg.predict.inputs.collect_inputs` turns the command line's files, folders and glob patterns into a
   sorted list of (image path, output stem) pairs.
2. :func:`predict_images` runs the model over them and writes, under ``out_dir``, for each stem the files that
   :mod:`swinseg.predict.writers` lists (labels, and optionally overlay, confidence, probabilities).

Preprocessing is the evaluation pipeline (:func:`swinseg.data.transforms.eval_transform`): rescale to fit
``scale`` keeping the aspect ratio (mmcv's rule), ImageNet normalisation. The logits are resized back to the
original size (bilinear) before the argmax, as mmsegmentation does, so the labels are what ``swinseg eval``
scores. How each batch is predicted (sliding windows for large inputs in ``auto`` mode, TTA, labels straight
from the head) is :func:`swinseg.inference.strategy.predict_batch`'s choice.

How the work overlaps: the image sizes are read from the file headers first, so images that reach the network
at the same size can be planned into batches (:mod:`swinseg.predict.plan`); a ``DataLoader`` with worker
processes decodes and resizes the next batches while the model runs; a small thread pool compresses and writes
the outputs. Every file is written atomically (no half-written PNG is left behind by an interruption) and
existing outputs are kept unless ``overwrite``. A file that cannot be read is reported on stderr (``path:
reason``), counted as failed and skipped; the others are still done.

Under ``torchrun`` every process is given the same item list, reads a strided share of the headers, and plans
the same batches from all of them; each then predicts a strided share of the batches. As a batch's images are
the same whatever the number of processes, so are the files written (batched and single forward passes can
differ in the last float bits). The returned summary covers all processes.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from swinseg.core.errors import first_line
from swinseg.core.processes import DistInfo, shard
from swinseg.core.progress import Progress, progress_write
from swinseg.core.progress import progress as progress_bar
from swinseg.core.stopping import Stopped, StopSignals
from swinseg.data.classes import ClassInfo
from swinseg.data.io import image_size, read_image
from swinseg.data.transforms import eval_transform, rescale_size
from swinseg.inference.strategy import predict_batch
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SwinsegModel
from swinseg.predict.plan import plan_batches
from swinseg.predict.writers import LABEL_FORMATS, output_paths, write_outputs

__all__ = ["PredictSummary", "predict_images"]


@dataclass
class PredictSummary:
    """What a run did (over all processes under torchrun); ``failed`` lists (image path, reason)."""

    written: int = 0
    skipped_existing: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        """Images predicted and written per second of the run (skipped ones do not count)."""
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.written} images written, {self.skipped_existing} skipped (exist), {len(self.failed)} failed "
            f"in {self.seconds:.1f} s ({self.images_per_s:.2f} img/s)"
        )


# ----------------------------------------------------------------------------------------------------------
# Reading: a Dataset whose failures are records, not exceptions
# ----------------------------------------------------------------------------------------------------------


def _reason(error: BaseException, path: Path) -> str:
    """The first line of an error message, without the leading ``path: `` that swinseg's errors carry."""
    return first_line(error, strip_prefix=f"{path}: ")


class _ImageFiles(torch.utils.data.Dataset):
    """``dataset[i]`` -> ``{"index": i, "image": (3, h, w) float32 network input, "size": (H, W) original,
    "original": (H, W, 3) uint8 or None, "error": None}``, or ``{"index": i, "error": reason}`` when the file
    cannot be read or transformed: one bad file never stops the loader."""

    def __init__(self, paths: Sequence[Path], transform: Callable, keep_original: Sequence[bool]):
        self.paths, self.transform, self.keep_original = list(paths), transform, list(keep_original)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        try:
            image = read_image(path)
            tensor = self.transform(image=image)["image"]
        except Exception as e:  # noqa: BLE001 - any failure is this file's, reported with its name
            return {"index": index, "error": _reason(e, path)}
        original = torch.from_numpy(image) if self.keep_original[index] else None  # tensors cross via shared memory
        return {"index": index, "image": tensor, "size": tuple(image.shape[:2]), "original": original, "error": None}


def _as_list(samples: list[dict]) -> list[dict]:
    """The DataLoader's collate: keep the samples apart (they are stacked per network size when computing)."""
    return samples


def _read_size(path: Path) -> tuple[int, int] | str:
    """(H, W) as read_image will return it, from the header; or the reason it cannot be read."""
    try:
        w, h = image_size(path)
        return h, w
    except Exception as e:  # noqa: BLE001
        return _reason(e, path)


@dataclass(frozen=True)
class _Item:
    """An image left to predict: its path, the outputs still to write and its network input size."""

    path: Path
    paths: dict[str, Path]
    net_size: tuple[int, int]


# ----------------------------------------------------------------------------------------------------------
# The steps of a run
# ----------------------------------------------------------------------------------------------------------


class _Progress:
    """The summary, the bar and the writes in flight: one place where every image ends as written or failed."""

    def __init__(self, info: DistInfo, show: bool):
        self.summary = PredictSummary()
        self.show = show and info.is_main
        self.bar: Progress | None = None  # started once the number of images to predict is known
        self.pending: deque[tuple[Path, Future]] = deque()  # writes in flight, oldest first

    def start(self, to_predict: int) -> None:
        """The bar over every image still to do; those that already failed (unreadable headers) count as done."""
        done = len(self.summary.failed)
        self.bar = progress_bar(total=done + to_predict, initial=done, desc="predict", unit="img", disable=not self.show,
                        file=sys.stderr, dynamic_ncols=True)  # fmt: skip

    def fail(self, path: Path, reason: str) -> None:
        self.summary.failed.append((path, reason))
        progress_write(f"{path}: {reason}", file=sys.stderr)
        if self.bar is not None:
            self.bar.update(1)

    def finish(self, limit: int) -> None:
        """Collect finished writes; wait for the oldest while more than ``limit`` are in flight."""
        while self.pending and (len(self.pending) > limit or self.pending[0][1].done()):
            path, future = self.pending.popleft()
            error = future.exception()
            if error is None:
                self.summary.written += 1
                self.bar.update(1)
            else:
                self.fail(path, f"cannot write its outputs: {_reason(error, path)}")


def _left_to_do(items: Sequence[tuple[Path, Path]], out_dir: Path, kinds: list[str], overwrite: bool,
                info: DistInfo, summary: PredictSummary) -> list[tuple[Path, dict[str, Path]]]:  # fmt: skip
    """The images with outputs still to write, and those outputs (every process looks at every image; each
    counts its share of the skipped ones)."""
    todo = []
    for index, (path, stem) in enumerate(items):
        paths = output_paths(out_dir, stem, kinds)
        missing = {k: p for k, p in paths.items() if overwrite or not p.exists()}
        if missing:
            todo.append((Path(path), missing))
        elif index % info.world_size == info.rank:
            summary.skipped_existing += 1
    return todo


def _with_sizes(todo: list[tuple[Path, dict[str, Path]]], scale: tuple[int, int] | None, pool: ThreadPoolExecutor,
                info: DistInfo, progress: _Progress) -> list[_Item]:  # fmt: skip
    """The readable images with their network input sizes, read from the headers (each process reads a strided
    share, reports its failures and shares the rest, so that every process plans the same batches)."""
    mine = shard(len(todo), info)
    sizes: list = [None] * len(todo)
    for index, size in zip(mine, pool.map(_read_size, [todo[i][0] for i in mine])):
        sizes[index] = size
        if isinstance(size, str):
            progress.fail(todo[index][0], size)
    if info.enabled and dist.is_available() and dist.is_initialized():
        shares: list = [None] * info.world_size
        dist.all_gather_object(shares, [(i, sizes[i]) for i in mine])
        for share in shares:
            for index, size in share:
                sizes[index] = size
    return [
        _Item(path, paths, rescale_size(size, scale) if scale is not None else size)
        for (path, paths), size in zip(todo, sizes)
        if not isinstance(size, str)
    ]


def _gather(summary: PredictSummary, info: DistInfo) -> PredictSummary:
    """Every process's summary merged (counts and failures added, the slowest process's seconds)."""
    if not (info.enabled and dist.is_available() and dist.is_initialized()):
        return summary
    parts: list = [None] * info.world_size
    local = (summary.written, summary.skipped_existing, [(str(p), r) for p, r in summary.failed], summary.seconds)
    dist.all_gather_object(parts, local)
    return PredictSummary(
        written=sum(p[0] for p in parts),
        skipped_existing=sum(p[1] for p in parts),
        failed=sorted((Path(p), r) for part in parts for p, r in part[2]),
        seconds=max(p[3] for p in parts),
    )


def _check(classes: ClassInfo, batch_size: int, scale: tuple[int, int] | None, label_format: str) -> None:
    if label_format not in LABEL_FORMATS:
        raise ValueError(f"label format must be one of {', '.join(LABEL_FORMATS)}, not {label_format!r}")
    if len(classes) > 256 - (label_format == "ade-release"):
        raise ValueError(f"{len(classes)} classes do not fit an 8-bit label PNG in the {label_format} format")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if scale is not None and (len(scale) != 2 or min(scale) < 1):
        raise ValueError(f"scale must be two positive sizes, not {scale}")


def predict_images(
    model: SwinsegModel,
    items: Sequence[tuple[Path, Path]],
    out_dir: str | os.PathLike,
    classes: ClassInfo,
    inference: InferenceConfig,
    scale: tuple[int, int] | None = (2048, 512),
    batch_size: int = 4,
    overlay: bool = False,
    save_probs: bool = False,
    save_confidence: bool = False,
    overwrite: bool = False,
    num_workers: int = 2,
    info: DistInfo | None = None,
    progress: bool = True,
    label_format: str = "indices",
    stop: StopSignals | None = None,
) -> PredictSummary:
    """Predict every ``(path, stem)`` of ``items`` (from :func:`collect_inputs`) into ``out_dir``; see the module
    docstring for the files written.

    model: in eval mode, on the device to run on; maps (B, 3, h, w) to logits (B, K, h, w), K = ``len(classes)``.
    inference: resolved (a crop for ``slide`` / ``auto``); ``auto`` slides when the network input is more than
        twice the crop in height or width. Sliding windows and TTA take one image at a time; same-size images
        go ``batch_size`` at a time.
    scale: (long, short) side the images are fitted into, keeping the aspect ratio; ``None`` for native size.
    overwrite: rewrite existing outputs; otherwise an image whose requested outputs all exist is skipped and
        one with some of them is predicted to write the missing ones only.
    num_workers: DataLoader processes decoding and resizing (0: in this process).
    info: this process under torchrun: it takes batches ``rank, rank + world_size, ...`` of the plan; pass every
        process the same ``items``. The summary returned, the same on every process, covers all of them.
    progress: a bar on stderr, plain lines when it is not a terminal (main process only); unreadable files are
        reported there either way.
    label_format: ``indices`` (palette PNGs of 0..K-1) or ``ade-release`` (grey PNGs of 1..K, the ADE20K
        devkit's and benchmark server's convention; ``swinseg score --pred-format ade-release`` reads them).
    stop: a stop signal ends the work after the batch in progress, once its files are written
        (:class:`~swinseg.core.stopping.Stopped`); every file written is whole, and a rerun skips them.
    """
    _check(classes, batch_size, scale, label_format)
    info = info or DistInfo()
    device = next(model.parameters()).device
    kinds = ["labels"] + ["overlay"] * overlay + ["confidence"] * save_confidence + ["probs"] * save_probs
    start = time.perf_counter()
    run = _Progress(info, progress)
    todo = _left_to_do(items, Path(out_dir), kinds, overwrite, info, run.summary)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="swinseg-io") as pool:
        readable = _with_sizes(todo, scale, pool, info, run)
        alone = lambda size: inference.tta or inference.mode_for(size) == "slide"  # noqa: E731
        batches = plan_batches([item.net_size for item in readable], batch_size, alone)
        batches = [batches[i] for i in shard(len(batches), info)]
        run.start(sum(map(len, batches)))
        loader = _loader(readable, batches, scale, num_workers, device, stop)
        max_pending = max(4, 2 * batch_size)  # bounds the label maps held in memory while the disk catches up

        def compute(group: list[dict]) -> None:
            """One batch of equal network size through the model; its outputs handed to the writer threads."""
            images = torch.stack([s["image"] for s in group]).to(device, non_blocking=True)
            predictions = predict_batch(model, images, [s["size"] for s in group], inference, len(classes),
                                        confidence=save_confidence, probs=save_probs)  # fmt: skip
            for sample, p in zip(group, predictions):
                item = readable[sample["index"]]
                write = (write_outputs, item.paths, p.labels, sample["original"], p.confidence, p.probs, classes)
                run.pending.append((item.path, pool.submit(*write, overwrite=overwrite, label_format=label_format)))

        try:
            for samples in loader if batches else []:
                for group in _groups(samples, readable, run):
                    try:
                        compute(group)
                    except torch.OutOfMemoryError:  # this batch's images fail; smaller ones may still fit
                        _out_of_memory(group, readable, run, device)
                run.finish(max_pending)
                _stop_if_asked(stop, run, out_dir)
            run.finish(0)
        finally:
            run.bar.close()
    run.summary.seconds = time.perf_counter() - start
    return _gather(run.summary, info)


def _loader(readable: list[_Item], batches: list[list[int]], scale: tuple[int, int] | None, num_workers: int,
            device: torch.device, stop: StopSignals | None) -> torch.utils.data.DataLoader:
    """The planned batches of decoded, resized images (workers leave stop signals to this process)."""
    dataset = _ImageFiles([i.path for i in readable], eval_transform(scale), ["overlay" in i.paths for i in readable])
    return torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=num_workers, collate_fn=_as_list,
                                       pin_memory=device.type == "cuda",
                                       worker_init_fn=stop.worker_init() if stop is not None else None)  # fmt: skip


def _out_of_memory(group: list[dict], readable: list[_Item], run: _Progress, device: torch.device) -> None:
    """A batch that did not fit: its images are reported failed, the cache freed for the next ones."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    for sample in group:
        run.fail(readable[sample["index"]].path, "out of memory (try --batch-size 1 or --mode slide)")


def _stop_if_asked(stop: StopSignals | None, run: _Progress, out_dir: str | os.PathLike) -> None:
    """After a batch: when a stop signal came (this process's own: shards differ in length, so no collective),
    wait for the files in flight, then raise :class:`Stopped`."""
    signum = stop.received if stop is not None else None
    if signum:
        run.finish(0)
        raise Stopped(signum, f"stopped by {StopSignals.name(signum)} after {run.summary.written} images; what is "
                              f"in {out_dir} is whole: run the same command to continue")  # fmt: skip


def _groups(samples: list[dict], readable: list[_Item], run: _Progress) -> list[list[dict]]:
    """A loaded batch's readable samples, grouped by tensor shape (equal by plan; grouped again in case a
    header told another size than the pixels); unreadable ones are reported failed."""
    groups: dict[tuple[int, ...], list[dict]] = {}
    for sample in samples:
        if sample["error"] is not None:
            run.fail(readable[sample["index"]].path, sample["error"])
        else:
            groups.setdefault(tuple(sample["image"].shape), []).append(sample)
    return list(groups.values())
