"""Comparing results over the same images: models against the first (paired), and runs of one recipe (seeds).

Inputs are :class:`ImageStats` (from ``--save-stats``, or made on the fly from prediction folders or
checkpoints by the CLI). Results are refused with a one-line error when their image sets, datasets or inference
settings differ (:func:`check_comparable`), unless forced.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from swinseg.core.atomic_write import atomic_write
from swinseg.core.json_values import finite_json
from swinseg.evaluation.bootstrap import DEFAULT_N_BOOT, DEFAULT_N_PERM, compare_stats
from swinseg.evaluation.image_stats import ImageStats
from swinseg.evaluation.metrics import compute_metrics

__all__ = [
    "aggregate_markdown",
    "aggregate_runs",
    "check_comparable",
    "compare_models",
    "comparison_markdown",
    "plot_class_deltas",
]


def _field(record: dict, *keys: str) -> object:
    for key in keys:
        record = record.get(key, {}) if isinstance(record, dict) else {}
    return record or None


def check_comparable(names: Sequence[str], results: Sequence[ImageStats], force: bool = False) -> None:
    """The same images (names), and unless ``force`` the same dataset fingerprint and inference settings; the
    error names the two results and the field that differs."""
    base_name, base = names[0], results[0]
    for name, other in zip(names[1:], results[1:]):
        why = base.mismatch(other)
        if why is not None:
            raise ValueError(f"{name}: covers other images than {base_name} ({other.num_images} vs "
                             f"{base.num_images}; {why})")  # fmt: skip
        if force:
            continue
        for label, keys in (("dataset fingerprint", ("dataset", "sha256")), ("inference settings", ("inference",))):
            mine, theirs = _field(base.provenance, *keys), _field(other.provenance, *keys)
            if mine is not None and theirs is not None and mine != theirs:
                raise ValueError(f"{name}: its {label} differs from {base_name}'s ({theirs} vs {mine}); "
                                 "pass --force to compare anyway")  # fmt: skip


def compare_models(names: Sequence[str], results: Sequence[ImageStats], level: float = 0.95,
                   n_boot: int = DEFAULT_N_BOOT, n_perm: int = DEFAULT_N_PERM, seed: int = 0,
                   force: bool = False) -> dict:  # fmt: skip
    """Every model after the first against the first: ``{"baseline": {name, mIoU, aAcc, mAcc}, "models": [{name,
    mIoU, ..., delta_mIoU, delta_mIoU_ci, p_value, per_class: [...]}, ...]}``."""
    if len(results) < 2:
        raise ValueError("compare needs at least two results")
    check_comparable(names, results, force)

    def summary(stats: ImageStats) -> dict:
        m = stats.metrics()
        return {"mIoU": m["mIoU"], "aAcc": m["aAcc"], "mAcc": m["mAcc"], "num_images": stats.num_images}

    models = [{"name": name, **summary(stats), **compare_stats(results[0], stats, level, n_boot, n_perm, seed)}
              for name, stats in zip(names[1:], results[1:])]  # fmt: skip
    return {"baseline": {"name": names[0], **summary(results[0])}, "models": models}


def _fmt(value: float | None, sign: bool = False) -> str:
    return "-" if value is None else (f"{value:+.2f}" if sign else f"{value:.2f}")


def _ci(ci: list | None) -> str:
    return "-" if ci is None or ci[0] is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def comparison_markdown(comparison: dict) -> str:
    """One row per model: its mIoU / aAcc / mAcc and the difference to the baseline with intervals and p."""
    base = comparison["baseline"]
    level = comparison["models"][0]["level"] if comparison["models"] else 0.95
    lines = [f"| model | mIoU | aAcc | mAcc | Δ mIoU | {100 * level:g} % CI | p | Δ aAcc | Δ mAcc |",
             "|:---|---:|---:|---:|---:|:---:|---:|---:|---:|",
             f"| {base['name']} (baseline) | {_fmt(base['mIoU'])} | {_fmt(base['aAcc'])} | {_fmt(base['mAcc'])} "
             "| | | | | |"]  # fmt: skip
    for m in comparison["models"]:
        lines.append(f"| {m['name']} | {_fmt(m['mIoU'])} | {_fmt(m['aAcc'])} | {_fmt(m['mAcc'])} "
                     f"| {_fmt(m['delta_mIoU'], True)} | {_ci(m['delta_mIoU_ci'])} | {m['p_value']:.4f} "
                     f"| {_fmt(m['delta_aAcc'], True)} {_ci(m['delta_aAcc_ci'])} "
                     f"| {_fmt(m['delta_mAcc'], True)} {_ci(m['delta_mAcc_ci'])} |")  # fmt: skip
    if comparison["models"]:
        lines.append(f"\nΔ: model minus baseline on the same {base['num_images']} images; CI: "
                     f"{comparison['models'][0]['method']} ({comparison['models'][0]['n_boot']} resamples, "
                     f"{comparison['models'][0]['n_perm']} permutations).")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot_class_deltas(comparison: dict, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Per-class IoU differences of each model against the baseline, as sorted bars with interval error bars
    (one panel per model; classes present in neither are left out); a PNG, written atomically."""
    from matplotlib.figure import Figure

    models = comparison["models"]
    rows = [[r for r in m["per_class"] if r["delta_IoU"] is not None] for m in models]
    height = max(len(r) for r in rows) if rows else 1
    fig = Figure(figsize=(4.2 * max(len(models), 1), 0.8 + 0.16 * height))
    axes = fig.subplots(1, max(len(models), 1), squeeze=False)[0]
    for ax, m, classes in zip(axes, models, rows):
        classes = sorted(classes, key=lambda r: r["delta_IoU"])
        values = np.array([r["delta_IoU"] for r in classes])
        low = np.array([r["delta_IoU"] - (r["delta_IoU_ci"][0] if r["delta_IoU_ci"][0] is not None else r["delta_IoU"])
                        for r in classes])  # fmt: skip
        high = np.array([(r["delta_IoU_ci"][1] if r["delta_IoU_ci"][1] is not None else r["delta_IoU"]) - r["delta_IoU"]
                         for r in classes])  # fmt: skip
        colors = ["#2a9d4b" if v > 0 else "#c0392b" for v in values]
        ax.barh([r["name"] for r in classes], values, xerr=[low, high], color=colors, ecolor="#555", capsize=1.5)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"{m['name']} - {comparison['baseline']['name']}\nΔ mIoU {m['delta_mIoU']:+.2f} "
                     f"(p {m['p_value']:.3g})", fontsize=9)  # fmt: skip
        ax.set_xlabel("IoU difference (points)")
        ax.tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=100, format="png"), overwrite)


def aggregate_runs(names: Sequence[str], results: Sequence[ImageStats], force: bool = False) -> dict:
    """Runs of one recipe (seeds) on the same images: mIoU's median, mean, standard deviation (n - 1), min and
    max, as papers should report them, and per class the IoU's mean and std over runs and the pooled IoU (areas
    summed over runs)."""
    if len(results) < 2:
        raise ValueError("aggregate needs at least two runs")
    check_comparable(names, results, force)
    per_run = [r.metrics() for r in results]
    mious = [m["mIoU"] for m in per_run]
    pooled = compute_metrics(tuple(sum(areas) for areas in zip(*(r.areas() for r in results))))  # areas summed
    ious = np.array([[np.nan if row["IoU"] is None else row["IoU"] for row in m["per_class"]] for m in per_run])
    with np.errstate(invalid="ignore"):
        class_mean, class_std = np.nanmean(ious, 0), np.nanstd(ious, 0, ddof=1)
    return {
        "runs": [{"name": n, "mIoU": m["mIoU"], "aAcc": m["aAcc"], "mAcc": m["mAcc"]} for n, m in zip(names, per_run)],
        "mIoU": {"median": statistics.median(mious), "mean": statistics.fmean(mious), "std": statistics.stdev(mious),
                 "min": min(mious), "max": max(mious), "n": len(mious)},  # fmt: skip
        "pooled": {"mIoU": pooled["mIoU"], "aAcc": pooled["aAcc"], "mAcc": pooled["mAcc"]},
        "per_class": [
            {"name": name, "IoU_mean": finite_json(float(class_mean[k])), "IoU_std": finite_json(float(class_std[k])),
             "IoU_pooled": pooled["per_class"][k]["IoU"]}
            for k, name in enumerate(results[0].class_names)
        ],  # fmt: skip
    }


def aggregate_markdown(aggregate: dict) -> str:
    m = aggregate["mIoU"]
    lines = ["| runs | median mIoU | mean ± std | min | max | pooled mIoU |", "|---:|---:|---:|---:|---:|---:|",
             f"| {m['n']} | {m['median']:.2f} | {m['mean']:.2f} ± {m['std']:.2f} | {m['min']:.2f} | {m['max']:.2f} "
             f"| {aggregate['pooled']['mIoU']:.2f} |", "", "| run | mIoU | aAcc | mAcc |", "|:---|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['name']} | {r['mIoU']:.2f} | {r['aAcc']:.2f} | {r['mAcc']:.2f} |" for r in aggregate["runs"]]
    return "\n".join(lines) + "\n"
