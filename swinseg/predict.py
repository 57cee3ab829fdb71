"""Predict label maps for image files: the library behind ``swinseg predict``.

Two steps:

1. :func:`~swinseg.input_files.collect_inputs` turns the command line's files, folders and glob patterns into a sorted list of
   (image path, output stem) pairs.
2. :func:`predict_images` runs the model over them and writes, under ``out_dir``, for each stem ``s``:

   ====================  ===================================================================================
   ``s.png``             palette-indexed labels (mode P, the classes' palette) at the original image size
   ``s_overlay.jpg``     the colour map blended over the image (``overlay=True``)
   ``s_confidence.png``  the top class's softmax probability as 8-bit grey, 255 = certain (``save_confidence``)
   ``s_probs.npz``       ``probs``: (K, H, W) float16 softmax probabilities, compressed (``save_probs``)
   ====================  ===================================================================================

Preprocessing is the evaluation pipeline (:func:`swinseg.data.transforms.eval_transform`): rescale to fit
``scale`` keeping the aspect ratio (mmcv's rule), ImageNet normalisation. The logits are resized back to the
original size (bilinear) before the argmax, as mmsegmentation does, so the labels are what ``swinseg eval``
scores. Large network inputs (more than twice the crop in either side, in ``mode="auto"``) go through sliding
windows.

How the work overlaps: the image sizes are read from the file headers first, so images that reach the network
at the same size can be planned into batches; a ``DataLoader`` with worker processes decodes and resizes the
next batches while the model runs; a small thread pool compresses and writes the outputs. Every file is written
atomically (no half-written PNG is left behind by an interruption) and existing outputs are kept unless
``overwrite``. A file that cannot be read is reported on stderr (``path: reason``), counted as failed and
skipped; the others are still done.

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

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from tqdm import tqdm

from swinseg.data.classes import ClassInfo
from swinseg.data.datasets import IMAGE_SUFFIXES
from swinseg.input_files import collect_inputs
from swinseg.data.io import image_size, read_image, write_label_png
from swinseg.data.transforms import eval_transform, rescale_size
from swinseg.engine.distributed import DistInfo, shard
from swinseg.engine.inference import (
    TTA_SCALES,
    default_stride,
    predict_logits,
    resized_argmax,
    slide_inference,
    slide_labels,
    whole_inference,
)
from swinseg.files import atomic_write
from swinseg.models.segmentor import Segmentor
from swinseg.visualize import confidence_image, overlay

__all__ = [
    "IMAGE_SUFFIXES",
    "OUTPUTS",
    "TTA_SCALES",
    "PredictSummary",
    "collect_inputs",
    "labels_from_scores",
    "output_paths",
    "plan_batches",
    "predict_images",
]

# output kind -> what is appended to the stem
OUTPUTS = {"labels": ".png", "overlay": "_overlay.jpg", "confidence": "_confidence.png", "probs": "_probs.npz"}

# logits resized to the original size are processed this many values at a time (a few classes per step for a
# 12-megapixel photo), so 150 classes x 12 MP (7 GB in float32) never sit in memory at once
MAX_ELEMENTS = 1 << 25


def output_paths(out_dir: str | os.PathLike, stem: Path, kinds: Sequence[str]) -> dict[str, Path]:
    """``{"labels": out_dir/stem.png, "overlay": out_dir/stem_overlay.jpg, ...}`` for the given kinds."""
    return {kind: Path(out_dir) / f"{stem.as_posix()}{OUTPUTS[kind]}" for kind in kinds}


# ----------------------------------------------------------------------------------------------------------
# Reading: a Dataset whose failures are records, not exceptions
# ----------------------------------------------------------------------------------------------------------


def _reason(error: BaseException, path: Path) -> str:
    """The first line of an error message, without the leading ``path: `` that swinseg's errors carry."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


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


def plan_batches(
    net_sizes: Sequence[tuple[int, int]], batch_size: int, alone: Callable[[tuple[int, int]], bool]
) -> list[list[int]]:
    """Batches of indices whose network input sizes are equal, at most ``batch_size`` each, in order of their
    first image; an image for which ``alone(size)`` holds (sliding window, TTA) is a batch of its own."""
    batches: list[list[int]] = []
    open_batches: dict[tuple[int, int], list[int]] = {}
    for index, size in enumerate(net_sizes):
        if alone(size):
            batches.append([index])
            continue
        batch = open_batches.setdefault(size, [])
        batch.append(index)
        if len(batch) == batch_size:
            batches.append(open_batches.pop(size))
    batches += open_batches.values()
    return sorted(batches, key=lambda b: b[0])


# ----------------------------------------------------------------------------------------------------------
# From scores to labels, confidence and probabilities at the original size
# ----------------------------------------------------------------------------------------------------------


def labels_from_scores(
    scores: Tensor,
    out_size: tuple[int, int],
    are_probs: bool = False,
    confidence: bool = False,
    probs: bool = False,
    max_elements: int = MAX_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(K, h, w) scores of one image -> labels (H, W) uint8, confidence (H, W) float32 or None, probabilities
    (K, H, W) float16 or None, all at ``out_size`` = (H, W).

    Logits (``are_probs=False``) are resized to ``out_size`` (bilinear, align_corners False, as
    :func:`swinseg.engine.inference.predict_logits`) a few classes at a time, keeping a running maximum, argmax
    (the first class on ties, as ``argmax``) and log-sum-exp, so memory stays near ``max_elements`` values
    whatever the number of classes; the labels equal ``predict_logits(...).argmax(1)`` (labels alone come from
    :func:`swinseg.engine.inference.resized_argmax`, which resizes boundary pixels only). Confidence is the top
    softmax probability; ``probs`` takes a second pass. Probabilities (``are_probs=True``, TTA) must already be
    at ``out_size``.
    """
    if are_probs:
        if tuple(scores.shape[1:]) != tuple(out_size):
            raise ValueError(f"probabilities of size {tuple(scores.shape[1:])}, expected {tuple(out_size)}")
        best, labels = scores.max(0)
        return (
            labels.to(torch.uint8).cpu().numpy(),
            best.float().cpu().numpy() if confidence else None,
            scores.half().cpu().numpy() if probs else None,
        )
    if not (confidence or probs):  # labels only: resize just the pixels on class boundaries
        return resized_argmax(scores.float(), out_size).to(torch.uint8).cpu().numpy(), None, None
    k = scores.shape[0]
    step = max(1, max_elements // max(out_size[0] * out_size[1], 1))

    def resized(k0: int) -> Tensor:  # (c, H, W) logits of classes k0 .. k0 + step - 1
        chunk = scores[None, k0 : k0 + step].float()
        if tuple(chunk.shape[2:]) != tuple(out_size):
            chunk = F.interpolate(chunk, size=out_size, mode="bilinear", align_corners=False)
        return chunk[0]

    best = labels = lse = None
    for k0 in range(0, k, step):
        chunk = resized(k0)
        index = chunk.argmax(0)
        value = chunk.gather(0, index[None])[0]
        if best is None:
            best, labels = value, index
        else:
            better = value > best  # strictly: an equal later class does not replace the first
            best, labels = torch.where(better, value, best), torch.where(better, index + k0, labels)
        if confidence or probs:
            part = torch.logsumexp(chunk, 0)
            lse = part if lse is None else torch.logaddexp(lse, part)
    conf = torch.exp(best - lse).cpu().numpy() if confidence else None
    prob_array = None
    if probs:
        prob_array = np.empty((k, *out_size), np.float16)
        for k0 in range(0, k, step):
            prob_array[k0 : k0 + step] = torch.exp(resized(k0) - lse).half().cpu().numpy()
    return labels.to(torch.uint8).cpu().numpy(), conf, prob_array


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------


def _write_outputs(
    paths: dict[str, Path],
    labels: np.ndarray,
    original: Tensor | None,
    conf: np.ndarray | None,
    probs: np.ndarray | None,
    classes: ClassInfo,
    overwrite: bool,
) -> None:
    """Write the outputs named in ``paths`` (each atomically); runs in a writer thread."""
    if "labels" in paths:
        write_label_png(paths["labels"], labels, classes.flat_palette(), overwrite=overwrite)
    if "overlay" in paths:
        blended = Image.fromarray(overlay(original.numpy(), labels, classes.palette))
        atomic_write(paths["overlay"], lambda tmp: blended.save(tmp, format="JPEG", quality=90), overwrite=overwrite)
    if "confidence" in paths:
        grey = Image.fromarray(confidence_image(conf))
        atomic_write(paths["confidence"], lambda tmp: grey.save(tmp, format="PNG"), overwrite=overwrite)
    if "probs" in paths:

        def save_npz(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: given a name, numpy would append ".npz" to it
                np.savez_compressed(f, probs=probs)

        atomic_write(paths["probs"], save_npz, overwrite=overwrite)


# ----------------------------------------------------------------------------------------------------------
# The whole run
# ----------------------------------------------------------------------------------------------------------


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


def _read_size(path: Path) -> tuple[int, int] | str:
    """(H, W) as read_image will return it, from the header; or the reason it cannot be read."""
    try:
        w, h = image_size(path)
        return h, w
    except Exception as e:  # noqa: BLE001
        return _reason(e, path)


def predict_images(
    model: nn.Module,
    items: Sequence[tuple[Path, Path]],
    out_dir: str | os.PathLike,
    classes: ClassInfo,
    scale: tuple[int, int] | None = (2048, 512),
    mode: str = "auto",
    crop_size: tuple[int, int] = (512, 512),
    stride: tuple[int, int] | None = None,
    tta: bool = False,
    batch_size: int = 4,
    overlay: bool = False,
    save_probs: bool = False,
    save_confidence: bool = False,
    overwrite: bool = False,
    num_workers: int = 2,
    info: DistInfo | None = None,
    progress: bool = True,
) -> PredictSummary:
    """Predict every ``(path, stem)`` of ``items`` (from :func:`collect_inputs`) into ``out_dir``; see the module
    docstring for the files written.

    model: in eval mode, on the device to run on; maps (B, 3, h, w) to logits (B, K, h, w), K = ``len(classes)``.
    scale: (long, short) side the images are fitted into, keeping the aspect ratio; ``None`` for native size.
    mode: ``whole`` (one pass per image; same-size images go ``batch_size`` at a time), ``slide`` (``crop_size``
        windows every ``stride`` pixels, default 2/3 of the crop, one image at a time), or ``auto``: slide when
        the network input is more than twice ``crop_size`` in height or width, else whole.
    tta: average the softmax of scales :data:`TTA_SCALES` x (plain, flipped), one image at a time.
    overwrite: rewrite existing outputs; otherwise an image whose requested outputs all exist is skipped and
        one with some of them is predicted to write the missing ones only.
    num_workers: DataLoader processes decoding and resizing (0: in this process).
    info: this process under torchrun: it takes batches ``rank, rank + world_size, ...`` of the plan; pass every
        process the same ``items``. The summary returned, the same on every process, covers all of them.
    progress: a tqdm bar on stderr (main process only); unreadable files are reported there either way.
    """
    if mode not in ("auto", "whole", "slide"):
        raise ValueError(f"mode must be auto, whole or slide, not {mode!r}")
    if len(classes) > 256:
        raise ValueError(f"{len(classes)} classes do not fit an 8-bit label PNG (at most 256)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    info = info or DistInfo()
    crop_size = tuple(crop_size)
    stride = tuple(stride) if stride is not None else default_stride(crop_size)
    for name, pair in (("crop_size", crop_size), ("stride", stride), ("scale", scale or (1, 1))):
        if len(pair) != 2 or min(pair) < 1:
            raise ValueError(f"{name} must be two positive sizes, not {pair}")
    device = next(model.parameters()).device
    kinds = ["labels"] + ["overlay"] * overlay + ["confidence"] * save_confidence + ["probs"] * save_probs
    start = time.perf_counter()
    summary = PredictSummary()

    def fail(path: Path, reason: str) -> None:
        summary.failed.append((path, reason))
        tqdm.write(f"{path}: {reason}", file=sys.stderr)

    def mode_for(net_size: Sequence[int]) -> str:
        if mode != "auto":
            return mode
        return "slide" if net_size[0] > 2 * crop_size[0] or net_size[1] > 2 * crop_size[1] else "whole"

    # what is left to write for each image (every process looks at every image; each counts its share's skips)
    todo: list[tuple[Path, dict[str, Path]]] = []
    for index, (path, stem) in enumerate(items):
        paths = output_paths(out_dir, stem, kinds)
        missing = {k: p for k, p in paths.items() if overwrite or not p.exists()}
        if missing:
            todo.append((Path(path), missing))
        elif index % info.world_size == info.rank:
            summary.skipped_existing += 1

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="swinseg-io") as pool:
        # sizes from the headers (each process reads a strided share, reports its failures, shares the rest)
        mine = shard(len(todo), info)
        sizes: list = [None] * len(todo)
        for index, size in zip(mine, pool.map(_read_size, [todo[i][0] for i in mine])):
            sizes[index] = size
            if isinstance(size, str):
                fail(todo[index][0], size)
        if info.enabled and dist.is_available() and dist.is_initialized():
            shares: list = [None] * info.world_size
            dist.all_gather_object(shares, [(i, sizes[i]) for i in mine])
            for share in shares:
                for index, size in share:
                    sizes[index] = size

        # network input sizes -> batches of equal sizes, planned alike on every process; this process's batches
        readable: list[tuple[Path, dict[str, Path], tuple[int, int]]] = [
            (path, paths, rescale_size(size, scale) if scale is not None else size)
            for (path, paths), size in zip(todo, sizes)
            if not isinstance(size, str)
        ]
        batches = plan_batches([net for *_, net in readable], batch_size, lambda s: tta or mode_for(s) == "slide")
        batches = [batches[i] for i in shard(len(batches), info)]
        dataset = _ImageFiles(
            [p for p, *_ in readable],
            eval_transform(scale),
            ["overlay" in paths for _, paths, _ in readable],
        )
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=num_workers,
            collate_fn=_as_list,
            pin_memory=device.type == "cuda",
        )

        pending: deque[tuple[Path, Future]] = deque()  # writes in flight, oldest first
        max_pending = max(4, 2 * batch_size)  # bounds the label maps held in memory while the disk catches up
        header_failures = len(summary.failed)
        bar = tqdm(
            total=header_failures + sum(map(len, batches)),
            initial=header_failures,
            desc="predict",
            unit="img",
            disable=not (progress and info.is_main),
            file=sys.stderr,
            dynamic_ncols=True,
        )

        def finish(limit: int) -> None:
            """Collect finished writes; wait for the oldest while more than ``limit`` are in flight."""
            while pending and (len(pending) > limit or pending[0][1].done()):
                path, future = pending.popleft()
                error = future.exception()
                if error is None:
                    summary.written += 1
                else:
                    fail(path, f"cannot write its outputs: {_reason(error, path)}")
                bar.update(1)

        def compute(group: list[dict]) -> None:
            """One forward pass (or one image's windows / TTA views) for samples of equal network size."""
            images = torch.stack([s["image"] for s in group]).to(device, non_blocking=True)
            how = mode_for(images.shape[2:])
            labels_only = not (tta or save_confidence or save_probs)
            at_input_size = all(tuple(s["size"]) == tuple(images.shape[2:]) for s in group)
            with torch.inference_mode():
                if how == "slide" and labels_only and at_input_size:
                    # labels straight from the windows, never the whole image's logits (memory: see slide_labels)
                    results = [(labels.cpu().numpy(), None, None)
                               for labels in slide_labels(model, images, len(classes), crop_size, stride)]
                elif how == "whole" and labels_only and isinstance(model, Segmentor):
                    # labels from the head's stride-4 logits: its resize to the input and the one to the image's
                    # size composed, a few rows at a time (see resized_argmax's `via`)
                    results = [(resized_argmax(scores.float(), s["size"], via=images.shape[2:]).to(torch.uint8)
                                .cpu().numpy(), None, None) for s, scores in zip(group, model.head_logits(images))]
                else:
                    if tta:
                        outputs = [
                            predict_logits(model, images[i : i + 1], s["size"], how, len(classes), crop_size,
                                           stride, scales=TTA_SCALES, flip=True)[0]  # fmt: skip
                            for i, s in enumerate(group)
                        ]
                    elif how == "slide":
                        outputs = list(slide_inference(model, images, len(classes), crop_size, stride))
                    else:
                        outputs = list(whole_inference(model, images))
                    results = [
                        labels_from_scores(scores, s["size"], are_probs=tta, confidence=save_confidence,
                                           probs=save_probs)
                        for s, scores in zip(group, outputs)
                    ]
                for sample, (labels, conf, probs) in zip(group, results):
                    path, paths, _ = readable[sample["index"]]
                    write = (_write_outputs, paths, labels, sample["original"], conf, probs, classes, overwrite)
                    pending.append((path, pool.submit(*write)))

        try:
            for samples in loader if batches else []:
                groups: dict[tuple[int, ...], list[dict]] = {}
                for sample in samples:
                    if sample["error"] is not None:
                        fail(readable[sample["index"]][0], sample["error"])
                        bar.update(1)
                    else:  # equal sizes by plan; grouped again in case a header told another size than the pixels
                        groups.setdefault(tuple(sample["image"].shape), []).append(sample)
                for group in groups.values():
                    try:
                        compute(group)
                    except torch.OutOfMemoryError:  # this batch's images fail; smaller ones may still fit
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                        for sample in group:
                            fail(readable[sample["index"]][0], "out of memory (try --batch-size 1 or --mode slide)")
                            bar.update(1)
                finish(max_pending)
            finish(0)
        finally:
            bar.close()
    summary.seconds = time.perf_counter() - start
    return _gather(summary, info)
