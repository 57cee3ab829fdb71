"""Evaluate a model on a dataset: predictions one image at a time into a streaming confusion matrix.

The dataset gives the image resized for the model (``eval_transform``) and the original annotation; predictions
are resized back to the annotation's size before scoring, as mmsegmentation does. Under ``torchrun`` each process
scores its own share of the images and the confusion matrices are summed.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from swinseg.core.processes import DistInfo, shard
from swinseg.data.datasets import SegmentationDataset
from swinseg.evaluation.metrics import ConfusionMatrix, compute_metrics
from swinseg.inference.logits import predict_logits
from swinseg.models.inference_config import InferenceConfig

__all__ = ["evaluate"]


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    dataset: SegmentationDataset,
    inference: InferenceConfig = InferenceConfig(),
    devkit: bool = False,
    info: DistInfo | None = None,
    progress: bool = True,
) -> dict:
    """mmseg's metrics (see :func:`swinseg.evaluation.metrics.compute_metrics`) of ``model`` (in eval mode) on
    ``dataset``, each image predicted as ``inference`` says (whole image or sliding windows, test-time
    augmentation). Returns the metrics dict plus ``num_images``.
    """
    info = info or DistInfo()
    device = next(model.parameters()).device
    matrix = ConfusionMatrix(dataset.num_classes, dataset.ignore_index)
    indices = shard(len(dataset), info)
    for index in tqdm(indices, desc="evaluate", disable=not (progress and info.is_main), leave=False):
        sample = dataset[index]
        label = sample["mask"]
        scores = predict_logits(
            model,
            sample["image"][None].to(device),
            out_size=tuple(label.shape),
            inference=inference,
            num_classes=dataset.num_classes,
        )
        matrix.update(scores.argmax(1)[0].cpu(), label)
    matrix.all_reduce()
    return {**compute_metrics(matrix, dataset.classes.names, devkit=devkit), "num_images": len(dataset)}
