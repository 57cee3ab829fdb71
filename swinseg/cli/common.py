"""What several subcommands share: help formatting and ``--set`` overrides."""

from __future__ import annotations

import argparse
from pathlib import Path

from swinseg.training.config import parse_yaml

__all__ = ["HelpFormatter", "parse_overrides", "refuse_existing"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' line breaks and shows every option's default."""


def parse_overrides(pairs: list[str] | None) -> dict[str, object]:
    """``["optim.lr=1e-4", "data.crop_size=[256,256]"]`` -> ``{"optim.lr": 1e-4, ...}``; values are YAML."""
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected key=value, e.g. optim.lr=1e-4")
        overrides[key.strip()] = parse_yaml(value)
    return overrides


def refuse_existing(*paths: str | None, overwrite: bool) -> None:
    """Fail before the work, not after it, when an output exists and --overwrite was not given."""
    for path in paths:
        if path and Path(path).exists() and not overwrite:
            raise FileExistsError(f"{path}: exists already (pass --overwrite to replace it)")
