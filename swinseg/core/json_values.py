"""Values that JSON can hold."""

from __future__ import annotations

import math

__all__ = ["finite_json"]


def finite_json(value: object) -> object:
    """NaN and infinities (a ratio of a failed measurement) -> None, at any depth, so every line is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value
