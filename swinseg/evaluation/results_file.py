"""The results of ``eval`` and ``score`` as a JSON file (summary, per-class rows, settings), written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from swinseg.core.atomic_write import atomic_write
from swinseg.core.json_values import finite_json

__all__ = ["write_results_json"]


def write_results_json(path: str | os.PathLike, results: dict, overwrite: bool = False) -> Path:
    """``results`` as indented strict JSON (NaN and infinities as null) at ``path``."""
    text = json.dumps(finite_json(results), indent=1, allow_nan=False)
    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text), overwrite)
