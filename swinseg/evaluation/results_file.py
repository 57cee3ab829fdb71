"""The results of ``eval`` and ``score``: made from per-image stats (metrics, intervals, provenance), and written
as a JSON file (summary, per-class rows, settings), atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from swinseg.core.atomic_write import atomic_write
from swinseg.core.json_values import finite_json
from swinseg.evaluation.bootstrap import (
    DEFAULT_N_BOOT,
    attach_intervals,
    bootstrap_intervals,
    summary_of,
)
from swinseg.evaluation.image_stats import ImageStats

__all__ = ["results_of", "write_results_json"]


def write_results_json(path: str | os.PathLike, results: dict, overwrite: bool = False) -> Path:
    """``results`` as indented strict JSON (NaN and infinities as null) at ``path``."""
    text = json.dumps(finite_json(results), indent=1, allow_nan=False)
    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text), overwrite)


def results_of(stats: ImageStats, ci: float | None = None, n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
               devkit: bool = False) -> dict:  # fmt: skip
    """The results of a run from its per-image stats: the metrics, ``summary``, the bootstrap intervals when
    ``ci`` is a level (e.g. 0.95), and the stats' ``provenance``."""
    results = stats.metrics(devkit)
    if ci is not None:
        results = attach_intervals(results, bootstrap_intervals(stats, ci, n_boot, seed))
    else:
        results["summary"] = summary_of(results)
    results["provenance"] = stats.provenance
    return results
