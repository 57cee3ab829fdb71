"""Rejecting unknown config keys with a suggestion: ``unknown optim key 'lrr' (did you mean 'lr'?)``."""

from __future__ import annotations

import difflib
from dataclasses import fields, is_dataclass

__all__ = ["check_known_keys"]


def check_known_keys(what: str, data: object, cls: type) -> None:
    """Raise ``ValueError`` naming every key of ``data`` that is not a field of the dataclass ``cls``."""
    assert is_dataclass(cls)
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a mapping of keys to values, not {type(data).__name__}")
    known = [f.name for f in fields(cls)]
    problems = []
    for key in sorted(set(map(str, data)) - set(known)):
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        problems.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if problems:
        plural = "s" if len(problems) > 1 else ""
        raise ValueError(f"unknown {what} key{plural} {', '.join(problems)}; known: {', '.join(known)}")
