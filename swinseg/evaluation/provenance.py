"""Where a result came from: the dataset's fingerprint, the checkpoint's hash, the inference settings, versions.

Every results file and stats file records one; :mod:`swinseg.evaluation.compare` refuses to compare results
whose image sets or inference settings differ, and names the field.
"""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Sequence
from pathlib import Path

__all__ = ["annotation_names", "checkpoint_sha256", "dataset_fingerprint", "provenance", "versions"]


def annotation_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Each annotation's path below the folder that holds them all, without its suffix: the image's name in
    stats files, the same whether the images were scored as a dataset (``eval``) or as a folder (``score``)."""
    paths = [Path(p).resolve() for p in paths]
    if not paths:
        return []
    root = Path(os.path.commonpath([p.parent for p in paths]))
    return [p.relative_to(root).with_suffix("").as_posix() for p in paths]


def dataset_fingerprint(annotations: Sequence[str | os.PathLike]) -> dict:
    """``{"num_images", "sha256"}``: a hash over the sorted names, sizes and contents of the annotation files."""
    digest = hashlib.sha256()
    names = annotation_names(annotations)
    for name, path in sorted(zip(names, annotations)):
        data = Path(path).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(hashlib.sha256(data).digest())
    return {"num_images": len(names), "sha256": digest.hexdigest()}


def checkpoint_sha256(path: str | os.PathLike) -> str:
    """sha256 of a checkpoint file, streamed (a directory: of its weight files, in name order)."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".pth")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("swinseg", "torch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def provenance(annotations: Sequence[str | os.PathLike], checkpoint: str | os.PathLike | None = None,
               inference: dict | None = None, **extra: object) -> dict:  # fmt: skip
    """The record a results or stats file carries (``checkpoint`` / ``inference`` None for prediction folders)."""
    record = {"dataset": dataset_fingerprint(annotations), "versions": versions(), **extra}
    if checkpoint is not None:
        record["checkpoint"] = {"path": str(checkpoint), "sha256": checkpoint_sha256(checkpoint)}
    if inference is not None:
        record["inference"] = inference
    return record
