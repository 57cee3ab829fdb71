"""Planning forward passes: images whose network inputs have the same size go through the model together."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["plan_batches"]


def plan_batches(
    net_sizes: Sequence[tuple[int, int]], batch_size: int, alone: Callable[[tuple[int, int]], bool]
) -> list[list[int]]:
    """Batches of indices whose network input sizes are equal, at most ``batch_size`` each, in order of their
    first image; an image for which ``alone(size)`` holds (sliding window, TTA) is a batch of its own."""
    batches: list[list[int]] = []
    open_batches: dict[tuple[int, int], list[int]] = {}
    for index, size in enumerate(net_sizes):
        if alone(size):
            batches.append([index])
            continue
        batch = open_batches.setdefault(size, [])
        batch.append(index)
        if len(batch) == batch_size:
            batches.append(open_batches.pop(size))
    batches += open_batches.values()
    return sorted(batches, key=lambda b: b[0])
