"""Several checkpoints on one dataset, one table: mIoU with its bootstrap interval, aAcc, mAcc, parameters,
GFLOPs and images per second at the evaluation size (``swinseg leaderboard``).

Each checkpoint is evaluated with its own recipe (test scale, inference settings) on the same images; its
per-image stats can be kept for ``swinseg compare``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from swinseg.benchmark.measure import count_params, profile_forward
from swinseg.checkpoints.loading import LoadedCheckpoint
from swinseg.core.atomic_write import atomic_write
from swinseg.evaluation.bootstrap import DEFAULT_N_BOOT, INTERVAL_METHOD
from swinseg.evaluation.compare import check_comparable
from swinseg.evaluation.evaluate import evaluate_images
from swinseg.evaluation.image_stats import ImageStats
from swinseg.evaluation.provenance import provenance
from swinseg.evaluation.results_file import results_of
from swinseg.inference.logits import predict_logits
from swinseg.training.config import load_with_recipe, recipe_validation_set

__all__ = ["CheckpointEvaluation", "evaluate_checkpoint", "leaderboard", "leaderboard_markdown", "plot_leaderboard"]


@dataclass(frozen=True)
class CheckpointEvaluation:
    """One checkpoint evaluated on a dataset: its per-image stats, the loaded model and how long it took."""

    name: str
    loaded: LoadedCheckpoint
    stats: ImageStats
    seconds: float
    eval_size: tuple[int, int]  # the network input of the first image, at the test scale


def evaluate_checkpoint(checkpoint: str | os.PathLike, data_root: str | os.PathLike, config: str | None = None,
                        device: str = "auto", split: str | None = None, progress: bool = True) -> CheckpointEvaluation:  # fmt: skip
    """Evaluate a checkpoint on the validation split (or ``split``) of the dataset at ``data_root``, in the
    layout and with the test settings of its recipe (or of the training YAML ``config``)."""
    loaded = load_with_recipe(checkpoint, config, device)
    dataset = recipe_validation_set(loaded, data_root, split=split)
    record = provenance([mask for _, mask in dataset.pairs], loaded.path, loaded.inference.to_dict())
    first = dataset[0]  # one untimed pass first, so that every checkpoint's img/s leaves out one-time costs
    predict_logits(loaded.model, first["image"][None], tuple(first["mask"].shape), loaded.inference,
                   dataset.num_classes)  # fmt: skip
    start = time.perf_counter()
    stats = evaluate_images(loaded.model, dataset, loaded.inference, progress=progress, provenance=record)
    seconds = time.perf_counter() - start
    return CheckpointEvaluation(str(checkpoint), loaded, stats, seconds, tuple(first["image"].shape[1:]))


def _row(run: CheckpointEvaluation, level: float, n_boot: int, seed: int) -> dict:
    results = results_of(run.stats, level, n_boot, seed)
    size = run.eval_size
    return {
        "name": run.name, "mIoU": results["mIoU"], "mIoU_ci": results["mIoU_ci"], "aAcc": results["aAcc"],
        "aAcc_ci": results["aAcc_ci"], "mAcc": results["mAcc"], "mAcc_ci": results["mAcc_ci"],
        "params_m": count_params(run.loaded.model) / 1e6, "eval_size": list(size),
        "gflops": profile_forward(run.loaded.model, size)["flops"] / 1e9,
        "img_per_s": run.stats.num_images / run.seconds, "num_images": run.stats.num_images,
        "inference": run.loaded.inference.to_dict(), "provenance": run.stats.provenance,
    }  # fmt: skip


def leaderboard(runs: Sequence[CheckpointEvaluation], level: float = 0.95, n_boot: int = DEFAULT_N_BOOT,
                seed: int = 0) -> dict:  # fmt: skip
    """The rows of :func:`leaderboard_markdown`, best mIoU first, and how the intervals were made."""
    check_comparable([r.name for r in runs], [r.stats for r in runs], force=True)  # same images; own test_cfg each
    rows = sorted((_row(r, level, n_boot, seed) for r in runs), key=lambda row: -row["mIoU"])
    return {"level": level, "n_boot": n_boot, "seed": seed, "method": INTERVAL_METHOD,
            "dataset": runs[0].stats.provenance.get("dataset") if runs else None, "rows": rows}  # fmt: skip


def leaderboard_markdown(board: dict) -> str:
    level = f"{100 * board['level']:g} %"
    lines = [f"| # | model | mIoU | {level} CI | aAcc | mAcc | params M | GFLOPs | eval size | img/s |",
             "|---:|:---|---:|:---:|---:|---:|---:|---:|:---:|---:|"]  # fmt: skip
    for i, r in enumerate(board["rows"], 1):
        low, high = r["mIoU_ci"]
        lines.append(f"| {i} | {r['name']} | {r['mIoU']:.2f} | [{low:.2f}, {high:.2f}] | {r['aAcc']:.2f} "
                     f"| {r['mAcc']:.2f} | {r['params_m']:.2f} | {r['gflops']:.3g} | {r['eval_size'][0]}x"
                     f"{r['eval_size'][1]} | {r['img_per_s']:.2f} |")  # fmt: skip
    n = board["rows"][0]["num_images"] if board["rows"] else 0
    lines.append(f"\nOn the same {n} images; CI: {board['method']} ({board['n_boot']} resamples, seed "
                 f"{board['seed']}); GFLOPs per image at the eval size; img/s of the whole evaluation.")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot_leaderboard(board: dict, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """mIoU per model as bars with the interval as error bars, best at the top; a PNG, written atomically."""
    from matplotlib.figure import Figure

    rows = list(reversed(board["rows"]))
    fig = Figure(figsize=(6.5, 0.9 + 0.35 * max(len(rows), 1)))
    ax = fig.subplots()
    values = [r["mIoU"] for r in rows]
    errors = [[r["mIoU"] - r["mIoU_ci"][0] for r in rows], [r["mIoU_ci"][1] - r["mIoU"] for r in rows]]
    ax.barh(["/".join(Path(r["name"]).parts[-2:]) for r in rows], values, xerr=errors, color="#3b75af", ecolor="#333", capsize=3)
    for y, r in enumerate(rows):
        ax.text(r["mIoU_ci"][1] + 0.3, y, f"{r['mIoU']:.2f}", va="center", fontsize=8)
    ax.set_xlabel(f"mIoU (%), {100 * board['level']:g} % bootstrap interval")
    ax.set_xlim(0, min(100, max(r["mIoU_ci"][1] for r in rows) * 1.15 + 1) if rows else 100)
    fig.tight_layout()
    return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=100, format="png"), overwrite)
