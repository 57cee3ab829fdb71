"""Argument types shared by the subcommands: a one-line usage error for a bad value."""

from __future__ import annotations

import argparse

__all__ = ["image_size", "non_negative_int", "positive_int"]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be a positive integer")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def image_size(text: str) -> int | tuple[int, int]:
    """``512`` -> 512 (square) or ``512x1024`` -> (512, 1024) (height x width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size like 512 or 512x1024 (height x width)")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])
