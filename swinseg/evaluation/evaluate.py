"""Evaluate a model on a dataset: predictions one image at a time into a streaming confusion matrix.

The dataset gives the image resized for the model (``eval_transform``) and the original annotation; predictions
are resized back to the annotation's size before scoring, as mmsegmentation does (for a whole image, the labels of
the resized logits come from the head's logits without resizing all classes:
:func:`~swinseg.inference.strategy.direct_labels`). Under ``torchrun`` each process scores its own share of the
images and the confusion matrices are summed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from swinseg.core.processes import DistInfo, shard
from swinseg.core.progress import progress as progress_bar
from swinseg.core.stopping import Stopped, StopSignals
from swinseg.data.datasets import SegmentationDataset
from swinseg.evaluation.image_stats import ImageStats, StatsCollector
from swinseg.evaluation.provenance import annotation_names
from swinseg.inference.logits import predict_logits
from swinseg.inference.strategy import direct_labels
from swinseg.models.inference_config import InferenceConfig

__all__ = ["evaluate", "evaluate_images"]


@torch.inference_mode()
def evaluate_images(
    model: nn.Module,
    dataset: SegmentationDataset,
    inference: InferenceConfig = InferenceConfig(),
    info: DistInfo | None = None,
    progress: bool = True,
    provenance: dict | None = None,
    stop: StopSignals | None = None,
) -> ImageStats:
    """Per-image areas of ``model`` (in eval mode) on ``dataset``, each image predicted as ``inference`` says
    (whole image or sliding windows, test-time augmentation). Under torchrun every process scores its share and
    all of them get every image's rows, in dataset order. With ``stop``, a stop signal ends the work after the
    image in progress (:class:`~swinseg.core.stopping.Stopped`; nothing is written, so a rerun starts over)."""
    info = info or DistInfo()
    device = next(model.parameters()).device
    names = annotation_names([mask for _, mask in dataset.pairs])
    collector = StatsCollector(dataset.num_classes, dataset.ignore_index)
    indices = shard(len(dataset), info)
    for done, index in enumerate(progress_bar(indices, desc="evaluate", disable=not (progress and info.is_main),
                                              leave=False)):  # fmt: skip
        signum = stop.received if stop is not None else None  # per process: shards differ in length
        if signum:
            raise Stopped(signum, f"stopped by {StopSignals.name(signum)} after {done} of {len(indices)} images; "
                                  "nothing was written: run the same command again")  # fmt: skip
        sample = dataset[index]
        label = sample["mask"]
        collector.update(names[index], _predicted_labels(model, sample["image"][None].to(device), tuple(label.shape),
                                                         inference, dataset.num_classes), label)  # fmt: skip
    stats = collector.stats(list(dataset.classes.names), provenance)
    return _gathered(stats, indices, info)


def _predicted_labels(model: nn.Module, image: torch.Tensor, size: tuple[int, int], inference: InferenceConfig,
                      num_classes: int) -> torch.Tensor:  # fmt: skip
    """``predict_logits(...).argmax(1)[0]`` (H, W) on the CPU: without the logits at the annotation's size where
    the labels come without them (:func:`~swinseg.inference.strategy.direct_labels`: a whole image from the
    head's logits, 1.29 -> 1.15 s an image for UPerNet Swin-T at 512x703 on the 2-vCPU Xeon)."""
    labels = direct_labels(model, image, [size], inference, num_classes)
    if labels is not None:
        return labels[0].cpu()
    return predict_logits(model, image, size, inference, num_classes).argmax(1)[0].cpu()


def _gathered(stats: ImageStats, indices: list[int], info: DistInfo) -> ImageStats:
    """Every process's rows, put back in dataset order (a no-op in a single process)."""
    if not (info.enabled and dist.is_available() and dist.is_initialized()):
        return stats
    parts: list = [None] * info.world_size
    dist.all_gather_object(parts, (indices, stats.images, stats.intersect, stats.pred, stats.label))
    rows = sorted((i, name, *(a[j] for a in arrays))
                  for idx, names, *arrays in parts for j, (i, name) in enumerate(zip(idx, names)))  # fmt: skip
    return ImageStats([r[1] for r in rows], np.stack([r[2] for r in rows]), np.stack([r[3] for r in rows]),
                      np.stack([r[4] for r in rows]), stats.class_names, stats.ignore_index, stats.provenance)  # fmt: skip


def evaluate(
    model: nn.Module,
    dataset: SegmentationDataset,
    inference: InferenceConfig = InferenceConfig(),
    devkit: bool = False,
    info: DistInfo | None = None,
    progress: bool = True,
) -> dict:
    """mmseg's metrics (see :func:`swinseg.evaluation.metrics.compute_metrics`) of ``model`` (in eval mode) on
    ``dataset`` (:func:`evaluate_images`, summed). Returns the metrics dict plus ``num_images``."""
    return evaluate_images(model, dataset, inference, info, progress).metrics(devkit)
