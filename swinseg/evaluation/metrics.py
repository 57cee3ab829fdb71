"""Semantic segmentation metrics with mmsegmentation's semantics, accumulated as a streaming confusion matrix.

``ConfusionMatrix`` counts (ground truth, prediction) pixel pairs batch by batch and never keeps a prediction, so
evaluating a whole dataset costs (K, K + 1) integers. Its per-class areas are exactly those of mmsegmentation's
``IoUMetric.intersect_and_union`` summed over images; ``compute_metrics`` turns them into the numbers of
``IoUMetric.total_area_to_metrics`` (aAcc, mIoU, mAcc, mDice, mFscore, mPrecision, mRecall, in percent, not rounded)
and optionally the ADE20K devkit's mean IoU (:mod:`swinseg.evaluation.score_folder` scores label PNGs with them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist

from swinseg.core.json_values import finite_json

__all__ = ["ConfusionMatrix", "compute_metrics", "results_to_markdown"]

SUMMARY_KEYS = ("aAcc", "mIoU", "mAcc", "mDice", "mFscore", "mPrecision", "mRecall")
CLASS_KEYS = ("IoU", "Acc", "Dice", "Fscore", "Precision", "Recall")


def _as_labels(x: torch.Tensor | np.ndarray, what: str) -> torch.Tensor:
    """A flat int64 CPU/GPU tensor of labels; floating point labels are refused rather than truncated."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if x.is_floating_point() or x.is_complex():
        raise TypeError(f"{what} must hold integer labels, got dtype {x.dtype}")
    return x.reshape(-1).long()


class ConfusionMatrix:
    """Streaming pixel counts: ``counts[t, p]`` pixels of ground-truth class ``t`` predicted as ``p``.

    ``counts`` is (K, K + 1) int64: the extra last column holds labelled pixels whose prediction is outside
    [0, K) (say 255 for "no prediction"). Such pixels count in the label area but in no class's predicted area,
    exactly as mmsegmentation's ``torch.histc(pred, bins=K, min=0, max=K-1)`` drops them.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255):
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        with torch.inference_mode(False):  # a normal tensor, updatable both inside and outside inference mode
            self.counts = torch.zeros((num_classes, num_classes + 1), dtype=torch.int64)

    def update(self, pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> None:
        """Add one batch: integer labels of the same shape, (B, H, W) or (H, W). Pixels whose target is
        ``ignore_index`` are skipped; any other target outside [0, K) raises ``ValueError``."""
        if tuple(pred.shape) != tuple(target.shape):
            raise ValueError(f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
        k = self.num_classes
        pred, target = _as_labels(pred, "pred"), _as_labels(target, "target")
        keep = target != self.ignore_index
        pred, target = pred[keep.to(pred.device)], target[keep]
        bad = (target < 0) | (target >= k)
        if bad.any():
            values = torch.unique(target[bad]).tolist()
            raise ValueError(
                f"target values {values[:10]}{' ...' if len(values) > 10 else ''} are outside [0, {k}) "
                f"and not ignore_index={self.ignore_index}"
            )
        pred = torch.where((pred >= 0) & (pred < k), pred, k).to(target.device)  # out of range -> extra column
        pairs = torch.bincount(target * (k + 1) + pred, minlength=k * (k + 1))
        self.counts += pairs.reshape(k, k + 1).cpu()

    def reset(self) -> None:
        self.counts.zero_()

    def all_reduce(self) -> ConfusionMatrix:
        """Sum the counts over all torch.distributed processes (a no-op when not initialised)."""
        if dist.is_available() and dist.is_initialized():
            device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
            counts = self.counts.to(device)
            dist.all_reduce(counts, op=dist.ReduceOp.SUM)
            self.counts.copy_(counts.cpu())
        return self

    def __iadd__(self, other: ConfusionMatrix) -> ConfusionMatrix:
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise ValueError("cannot merge confusion matrices of different num_classes / ignore_index")
        self.counts += other.counts
        return self


    @property
    def matrix(self) -> torch.Tensor:
        """(K, K) int64, rows ground truth, columns prediction (out-of-range predictions left out)."""
        return self.counts[:, : self.num_classes]

    @property
    def area_intersect(self) -> np.ndarray:
        """(K,) float64 pixels predicted as their ground-truth class."""
        return torch.diagonal(self.matrix).double().numpy()

    @property
    def area_pred(self) -> np.ndarray:
        """(K,) float64 labelled pixels predicted as each class."""
        return self.matrix.sum(0).double().numpy()

    @property
    def area_label(self) -> np.ndarray:
        """(K,) float64 labelled pixels of each ground-truth class."""
        return self.counts.sum(1).double().numpy()

    @property
    def area_union(self) -> np.ndarray:
        """(K,) float64 ``pred + label - intersect``."""
        return self.area_pred + self.area_label - self.area_intersect

    def areas(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(intersect, union, pred, label), the order of mmsegmentation's ``intersect_and_union``."""
        return self.area_intersect, self.area_union, self.area_pred, self.area_label


Areas = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _areas(source: ConfusionMatrix | torch.Tensor | np.ndarray | Sequence) -> Areas:
    if isinstance(source, ConfusionMatrix):
        return source.areas()
    if isinstance(source, (torch.Tensor, np.ndarray)):
        m = torch.as_tensor(source).double().cpu().numpy()
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"expected a (K, K) confusion matrix, got shape {m.shape}")
        inter, pred, label = np.diag(m).copy(), m.sum(0), m.sum(1)
        return inter, pred + label - inter, pred, label
    if len(source) != 4:
        raise ValueError("expected a ConfusionMatrix, a (K, K) matrix or (intersect, union, pred, label) areas")
    return tuple(torch.as_tensor(a).double().cpu().numpy().reshape(-1) for a in source)  # type: ignore[return-value]


def _percent(x: float) -> float | None:
    """A fraction as a JSON percentage: NaN (0/0) -> None."""
    return finite_json(float(100 * x))


def _nanmean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if not np.isnan(x).all() else math.nan


def compute_metrics(
    source: ConfusionMatrix | torch.Tensor | np.ndarray | Sequence,
    class_names: Sequence[str] | None = None,
    beta: float = 1.0,
    devkit: bool = False,
) -> dict:
    """mmsegmentation's metrics from a ``ConfusionMatrix``, a (K, K) matrix (rows ground truth) or the four
    (K,) areas ``(intersect, union, pred, label)``. All values are percentages (0-100), not rounded.

    Per class, as ``IoUMetric.total_area_to_metrics``: IoU = I/U, Acc = Recall = I/label, Dice = 2I/(pred+label),
    Precision = I/pred, Fscore = (1+b²)PR/(b²P+R). A 0/0 is NaN: a class absent from both prediction and ground
    truth has NaN everywhere; a class only predicted has IoU 0 but NaN Acc / Recall. The ``m*`` summaries are
    ``nanmean`` over classes, so NaN classes are left out of each mean separately; aAcc = sum(I) / sum(label).

    ``devkit=True`` adds ``mIoU_devkit``: the ADE20K devkit's (CSAILVision/sceneparsing ``demoEvaluation.m``,
    ``evaluationCode/utils_eval.py``) mean IoU, I / (U + eps) averaged over ALL K classes, so a class absent from
    both prediction and ground truth counts as 0 instead of being skipped; it is lower than mIoU whenever a
    class is absent. The devkit's pixel accuracy equals aAcc (same pixels, label 0 = ignored).

    Returns a JSON-serialisable dict (NaN -> None): the summary keys, ``per_class`` (a list of {name, IoU, Acc,
    Dice, Fscore, Precision, Recall, area_intersect, area_union, area_pred, area_label}) and ``num_classes``.
    """
    inter, union, pred, label = _areas(source)
    k = len(inter)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for {k} classes")
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = inter / pred, inter / label
        per_class = {
            "IoU": inter / union,
            "Acc": recall,
            "Dice": 2 * inter / (pred + label),
            "Fscore": (1 + beta**2) * precision * recall / (beta**2 * precision + recall),
            "Precision": precision,
            "Recall": recall,
        }
        a_acc = inter.sum() / label.sum() if label.sum() > 0 else math.nan
    results: dict = {"aAcc": _percent(a_acc)}
    for key, values in per_class.items():
        results["m" + key] = _percent(_nanmean(values))
    if devkit:
        results["mIoU_devkit"] = _percent(float(np.mean(inter / (union + np.spacing(1)))))
    results["num_classes"] = k
    results["per_class"] = [
        {"name": names[c], **{key: _percent(values[c]) for key, values in per_class.items()},
         "area_intersect": int(inter[c]), "area_union": int(union[c]),
         "area_pred": int(pred[c]), "area_label": int(label[c])}
        for c in range(k)
    ]  # fmt: skip
    return results


def _pct(x: float | None) -> str:
    return "nan" if x is None or not math.isfinite(x) else f"{x:.2f}"


def _with_ci(value: float | None, ci: list | None) -> str:
    if ci is None or ci[0] is None:
        return _pct(value)
    return f"{_pct(value)} [{_pct(ci[0])}, {_pct(ci[1])}]"


def results_to_markdown(results: dict) -> str:
    """A summary table (aAcc, mIoU, mAcc, mDice, mFscore [, mIoU_devkit]) and a per-class table (Class, IoU, Acc,
    Dice), values in percent with 2 decimals, ``nan`` where a class is absent; bootstrap intervals (``*_ci``)
    follow their values in brackets when the results have them."""
    keys = ["aAcc", "mIoU", "mAcc", "mDice", "mFscore"] + (["mIoU_devkit"] if "mIoU_devkit" in results else [])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---:|" * len(keys)]
    lines.append("| " + " | ".join(_with_ci(results.get(k), results.get(f"{k}_ci")) for k in keys) + " |")
    if "ci" in results:
        lines.append(f"\n[low, high]: {100 * results['ci']['level']:g} % {results['ci']['method']} "
                     f"({results['ci']['n_boot']} resamples, seed {results['ci']['seed']})")  # fmt: skip
    lines += ["", "| Class | IoU | Acc | Dice |", "|:---|---:|---:|---:|"]
    for row in results["per_class"]:
        name = str(row["name"]).replace("|", "\\|")
        iou = _with_ci(row["IoU"], row.get("IoU_ci"))
        lines.append(f"| {name} | {iou} | {_pct(row['Acc'])} | {_pct(row['Dice'])} |")
    return "\n".join(lines) + "\n"


