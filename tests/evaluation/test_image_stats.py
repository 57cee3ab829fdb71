"""Per-image stats: their sums are the confusion matrix's areas, and a saved file gives the same metrics."""

from __future__ import annotations

import numpy as np
import pytest

from swinseg.evaluation.image_stats import ImageStats, StatsCollector
from swinseg.evaluation.metrics import ConfusionMatrix, compute_metrics


def test_collected_rows_sum_to_the_streaming_matrix_and_round_trip_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    collector, matrix = StatsCollector(5, ignore_index=255), ConfusionMatrix(5, 255)
    for i in range(12):
        target = rng.integers(0, 5, (20, 30))
        target[rng.random(target.shape) < 0.1] = 255
        pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 5, target.shape)) % 255
        collector.update(f"dir/img{i}", pred, target)
        matrix.update(pred, target)
    stats = collector.stats(["a", "b", "c", "d", "e"], {"dataset": {"sha256": "x"}})
    expected = {**compute_metrics(matrix, ["a", "b", "c", "d", "e"]), "num_images": 12}
    assert stats.metrics() == expected
    path = stats.save(tmp_path / "s.npz")
    loaded = ImageStats.load(path)
    assert loaded.metrics() == expected and loaded.images[3] == "dir/img3" and loaded.provenance == stats.provenance
    assert loaded.intersect.dtype == np.uint32 and loaded.intersect.shape == (12, 5)
    with pytest.raises(FileExistsError):
        stats.save(path)


def test_ade20k_sized_stats_stay_small(tmp_path):
    rng = np.random.default_rng(0)
    n, k = 2000, 150
    label = ((rng.random((n, k)) < 0.1) * rng.integers(1, 200_000, (n, k))).astype(np.uint32)
    inter = (label * rng.random((n, k))).astype(np.uint32)
    pred = (inter + (label > 0) * rng.integers(0, 50_000, (n, k))).astype(np.uint32)
    path = ImageStats([f"ADE_val_{i:08d}" for i in range(n)], inter, pred, label, [str(c) for c in range(k)]).save(
        tmp_path / "ade.npz")  # fmt: skip
    assert path.stat().st_size < 5 * 2**20  # "well under 20 MB"


def test_a_file_that_is_not_stats_is_a_one_line_error(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz: not a swinseg image-stats file"):
        ImageStats.load(tmp_path / "other.npz")
