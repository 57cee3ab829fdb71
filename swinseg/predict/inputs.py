"""Turning the command line's files, folders and glob patterns into (image path, output name) pairs.

``collect_inputs`` is the first step of ``swinseg predict`` (:mod:`swinseg.predict`): it decides what is an
image, where each output goes, and refuses names that would collide.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from swinseg.data.datasets import IMAGE_SUFFIXES

__all__ = ["collect_inputs"]


def _has_magic(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _glob_base(pattern: str) -> str:
    """The directory part of a pattern before its first wildcard: ``photos/**/*.jpg`` -> ``photos``."""
    head = pattern
    while head and _has_magic(head):
        head, _ = os.path.split(head)
    return head or "."


def _is_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES


def _images_under(folder: str) -> list[str]:
    """Image files below ``folder``, recursively; hidden files and folders (``.thumbnails``, macOS's ``._a.jpg``)
    are left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".") and _is_image(f)]
    return found


def _inside(path: str, folder: str | None) -> bool:
    return folder is not None and os.path.commonpath([path, folder]) == folder


def collect_inputs(inputs: Sequence[str], exclude: str | os.PathLike | None = None) -> list[tuple[Path, Path]]:
    """Files, folders and glob patterns -> sorted ``(image path, output stem)`` pairs, duplicates removed.

    - a file is taken whatever its suffix;
    - a folder gives the images below it, recursively: suffixes ``.jpg .jpeg .png .bmp .tif .tiff .webp`` in any
      letter case, hidden files and folders skipped;
    - anything else with ``* ? [`` is a ``glob.glob(recursive=True)`` pattern (``**`` spans folders): the
      images it matches, and the images below the folders it matches.

    Output stems (the rule that keeps two folders' ``a.jpg`` apart): each argument has a base folder (a folder
    is its own base, a file's base is its folder, a pattern's is its folder part before the first wildcard);
    the stem is the image's path relative to the deepest folder holding every base, without the suffix. So
    ``photos/`` gives ``a``, ``trip/b`` ...; ``day1/ day2/`` give ``day1/a``, ``day2/a``; ``x/1.jpg x/2.jpg`` give
    ``1``, ``2``. Images that would share a stem (``a.jpg`` and ``a.png`` side by side) keep their suffix in it
    instead: ``a_jpg``, ``a_png``. Names depend on all the arguments together: to resume a run (and skip what
    it wrote), give the same ones.

    exclude: a folder whose files are never taken from folders or patterns (the output folder, so a second run
        over ``photos/`` with ``--out photos/pred`` does not predict the predictions).

    Raises a one-line ``ValueError`` naming the argument for a path that does not exist, a pattern that matches
    no image, and a folder without images.
    """
    excluded = os.path.abspath(exclude) if exclude is not None else None
    bases: list[str] = []
    found: list[str] = []
    for arg in inputs:
        if os.path.isdir(arg):
            images = [p for p in _images_under(arg) if not _inside(os.path.abspath(p), excluded)]
            if not images:
                raise ValueError(f"{arg}: no images in this folder (looked for {' '.join(IMAGE_SUFFIXES)})")
            bases.append(arg)
        elif os.path.isfile(arg):
            images = [arg]
            bases.append(os.path.dirname(arg) or ".")
        elif _has_magic(arg):
            images = []
            for match in sorted(glob.glob(arg, recursive=True)):
                if os.path.isdir(match):
                    images += _images_under(match)
                elif os.path.isfile(match) and _is_image(match):
                    images.append(match)
            images = [p for p in images if not _inside(os.path.abspath(p), excluded)]
            if not images:
                raise ValueError(f"{arg}: no images match this pattern")
            bases.append(_glob_base(arg))
        else:
            raise ValueError(f"{arg}: no such file or directory")
        found += images
    if not found:
        raise ValueError("no inputs given")

    root = os.path.commonpath([os.path.abspath(b) for b in bases])
    by_path: dict[str, str] = {}  # absolute path -> the path as found (kept for messages)
    for path in found:
        by_path.setdefault(os.path.abspath(path), path)
    stems: dict[str, list[str]] = {}  # stem -> absolute paths
    for absolute in by_path:
        stem = os.path.splitext(os.path.relpath(absolute, root))[0]
        stems.setdefault(stem, []).append(absolute)
    pairs: dict[str, str] = {}  # stem -> absolute path
    for stem, paths in stems.items():
        for absolute in paths:
            unique = stem if len(paths) == 1 else f"{stem}_{os.path.splitext(absolute)[1].lstrip('.').lower()}"
            if unique in pairs:  # a.jpg + a.JPG, or a.jpg + a.png + a_jpg.png
                taken_by = by_path[pairs[unique]]
                raise ValueError(f"{by_path[absolute]}: its output name {unique}.png is taken by {taken_by}")
            pairs[unique] = absolute
    return [(Path(by_path[pairs[stem]]), Path(stem)) for stem in sorted(pairs, key=lambda s: Path(s).parts)]
