"""Argument types shared by the subcommands: a one-line usage error for a bad value."""

from __future__ import annotations

import argparse

__all__ = ["image_size", "non_negative_int", "positive_int"]


def _integer_at_least(minimum: int, text: str, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text}: must be {expected}")
    return value


def positive_int(text: str) -> int:
    return _integer_at_least(1, text, "a positive integer")


def non_negative_int(text: str) -> int:
    return _integer_at_least(0, text, "0 or more")


def image_size(text: str) -> int | tuple[int, int]:
    """``512`` -> 512 (square) or ``512x1024`` -> (512, 1024) (height x width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size like 512 or 512x1024 (height x width)")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])
