"""Bootstrap intervals and paired comparisons against an independent implementation and known answers."""

from __future__ import annotations

import numpy as np
import pytest

from swinseg.evaluation.bootstrap import (
    bootstrap_intervals,
    compare_stats,
    metrics_of_sums,
)
from swinseg.evaluation.image_stats import ImageStats
from swinseg.evaluation.metrics import compute_metrics


def synthetic_stats(n: int = 200, k: int = 10, seed: int = 0, quality: float = 0.6) -> ImageStats:
    """Per-image areas of a plausible model: each image holds a few classes, part of each is found."""
    rng = np.random.default_rng(seed)
    present = rng.random((n, k)) < 0.35
    label = (present * rng.integers(50, 5000, (n, k))).astype(np.uint32)
    inter = (label * np.clip(rng.normal(quality, 0.2, (n, k)), 0, 1)).astype(np.uint32)
    pred = (inter + (rng.random((n, k)) < 0.5) * rng.integers(0, 2000, (n, k))).astype(np.uint32)
    return ImageStats([f"img{i:04d}" for i in range(n)], inter, pred, label, [f"c{c}" for c in range(k)])


def reference_interval(stats: ImageStats, level: float, n_boot: int, seed: int) -> dict:
    """The same bootstrap written plainly: draw image indices, sum their areas, compute_metrics, percentiles."""
    rng = np.random.default_rng(seed)
    values = {"mIoU": [], "aAcc": [], "c3": []}
    for _ in range(n_boot):
        idx = rng.integers(0, stats.num_images, stats.num_images)
        inter, pred, label = (a[idx].astype(np.int64).sum(0) for a in (stats.intersect, stats.pred, stats.label))
        m = compute_metrics((inter, pred + label - inter, pred, label))
        values["mIoU"].append(m["mIoU"])
        values["aAcc"].append(m["aAcc"])
        values["c3"].append(np.nan if m["per_class"][3]["IoU"] is None else m["per_class"][3]["IoU"])
    tail = 100 * (1 - level) / 2
    return {key: np.nanpercentile(v, [tail, 100 - tail]) for key, v in values.items()}


def test_intervals_agree_with_an_independent_bootstrap():
    stats = synthetic_stats()
    ours = bootstrap_intervals(stats, 0.9, n_boot=2000, seed=1)
    theirs = reference_interval(stats, 0.9, n_boot=2000, seed=7)  # other draws: agreement up to Monte Carlo error
    point = stats.metrics()
    for key, ci in (("mIoU", ours["mIoU_ci"]), ("aAcc", ours["aAcc_ci"]), ("c3", ours["IoU_ci"][3])):
        assert ci[0] < (point[key] if key != "c3" else point["per_class"][3]["IoU"]) < ci[1]
        width = ci[1] - ci[0]
        assert abs(ci[0] - theirs[key][0]) < 0.1 * width and abs(ci[1] - theirs[key][1]) < 0.1 * width, key
    assert ours["ci"] == {"level": 0.9, "n_boot": 2000, "seed": 1, "method": "percentile bootstrap over images"}
    assert bootstrap_intervals(stats, 0.9, 2000, seed=1) == ours  # seeded


def test_wider_intervals_for_fewer_images_and_higher_levels():
    many, few = synthetic_stats(n=400), synthetic_stats(n=40)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(bootstrap_intervals(few, 0.95, 500)["mIoU_ci"]) > width(bootstrap_intervals(many, 0.95, 500)["mIoU_ci"])
    assert width(bootstrap_intervals(many, 0.99, 500)["mIoU_ci"]) > width(bootstrap_intervals(many, 0.8, 500)["mIoU_ci"])


def test_vectorised_metrics_are_compute_metrics():
    stats = synthetic_stats(n=30, k=6)
    inter, union, pred, label = stats.areas()
    ours = metrics_of_sums(inter, pred, label)
    theirs = compute_metrics((inter, union, pred, label))
    assert ours["mIoU"] == pytest.approx(theirs["mIoU"], abs=1e-12)
    assert ours["mAcc"] == pytest.approx(theirs["mAcc"], abs=1e-12)
    assert ours["aAcc"] == pytest.approx(theirs["aAcc"], abs=1e-12)


def test_identical_results_differ_by_exactly_zero():
    stats = synthetic_stats()
    c = compare_stats(stats, stats, n_boot=500, n_perm=500)
    assert c["delta_mIoU"] == 0.0 and c["delta_mIoU_ci"] == [0.0, 0.0] and c["p_value"] == 1.0
    assert all(r["delta_IoU"] in (0.0, None) for r in c["per_class"])


def test_a_clearly_better_model_has_a_small_p_value_and_an_interval_above_zero():
    base = synthetic_stats(quality=0.5)
    better = ImageStats(base.images, np.minimum(base.intersect * 1.3, base.label).astype(np.uint32), base.pred,
                        base.label, base.class_names)  # fmt: skip
    c = compare_stats(base, better, n_boot=1000, n_perm=999, seed=3)
    assert c["delta_mIoU"] > 3 and c["p_value"] < 0.01 and c["delta_mIoU_ci"][0] > 0
    assert c["p_value"] == pytest.approx(1 / 1000)  # no permutation is as extreme: the smallest p possible
    worse = compare_stats(better, base, n_boot=1000, n_perm=999, seed=3)
    assert worse["delta_mIoU"] == pytest.approx(-c["delta_mIoU"]) and worse["delta_mIoU_ci"][1] < 0


def test_a_noise_difference_is_not_significant():
    base, other = synthetic_stats(seed=0), synthetic_stats(seed=0)
    rng = np.random.default_rng(5)
    other.intersect = np.minimum(other.intersect + rng.integers(0, 3, other.intersect.shape) * (other.label > 0),
                                 np.minimum(other.label, other.pred)).astype(np.uint32)  # fmt: skip
    c = compare_stats(base, other, n_boot=500, n_perm=500, seed=1)
    assert c["delta_mIoU_ci"][0] < c["delta_mIoU"] < c["delta_mIoU_ci"][1]
    assert abs(c["delta_mIoU"]) < 0.5


def test_other_image_sets_and_bad_levels_are_refused():
    a, b = synthetic_stats(n=20), synthetic_stats(n=21)
    with pytest.raises(ValueError, match="different image sets .* 'img0020' is in one only"):
        compare_stats(a, b)
    with pytest.raises(ValueError, match="--ci: expected a confidence level in \\(0, 1\\)"):
        bootstrap_intervals(a, 95)
