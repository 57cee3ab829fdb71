"""The textures the synthetic scenes are painted with (:mod:`swinseg.data.synth`): stripes, bricks, planks,
ripples, foliage, ... as (h, w) float arrays of about [0, 1], each a pure function of the random generator's
state. :data:`TEXTURES` names them all."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

__all__ = ["TEXTURES", "smooth_noise", "texture"]

TEXTURES = (
    "gradient", "clouds", "flat", "gloss", "stripes", "bricks", "grid", "windows", "checker", "planks", "ripples",
    "grass", "foliage", "rock", "asphalt", "fabric", "wood", "glass", "rings", "dots", "hatch", "zigzag",
)  # fmt: skip
_TAU = 2 * math.pi


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise (about unit scale) with blobs about ``cell`` pixels wide."""
    grid = rng.standard_normal((int(h / cell) + 2, int(w / cell) + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.BICUBIC))


def texture(rng: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    """An (h, w) texture of one kind, values roughly in [0, 1]."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    u = rng.uniform
    if kind == "gradient":
        p = y / h * u(0.6, 1.0) + 0.08 * smooth_noise(rng, h, w, 64)
    elif kind == "clouds":
        p = 0.35 + 0.35 * np.tanh(1.5 * smooth_noise(rng, h, w, 28)) + 0.2 * y / h
    elif kind == "flat":
        p = 0.5 + 0.06 * smooth_noise(rng, h, w, 48)
    elif kind == "gloss":  # painted metal: a bright horizontal highlight
        p = 0.3 + 0.6 * np.exp(-(((y / h) - u(0.15, 0.5)) * 5) ** 2) + 0 * x
    elif kind == "stripes":
        p = 0.5 + 0.4 * np.tanh(3 * np.sin(x * (_TAU / u(5, 14)))) + 0 * y
    elif kind in ("bricks", "grid"):
        bh = u(5, 11) if kind == "bricks" else u(10, 22)
        bw = bh * (u(1.8, 3.0) if kind == "bricks" else 1.0)
        row = y // bh
        xs = x + (row % 2) * (bw / 2) if kind == "bricks" else x + 0 * y
        shade = rng.random((int(h / bh) + 2, int(w / bw) + 3))
        mortar = ((y % bh) < 1.5) | ((xs % bw) < 1.5)
        p = np.where(mortar, 0.95, 0.15 + 0.35 * shade[row.astype(int), (xs // bw).astype(int)])
    elif kind == "windows":
        px, py, fx, fy = u(9, 18), u(11, 22), u(0.4, 0.7), u(0.4, 0.7)
        lit = ((x % px) < px * fx) & ((y % py) < py * fy)
        p = np.where(lit, u(0.8, 1.0), 0.25) + 0.05 * smooth_noise(rng, h, w, 16)
    elif kind == "checker":
        s = u(7, 18)
        p = 0.2 + 0.6 * ((x // s + y // s) % 2)
    elif kind == "planks":
        ph = u(5, 10)
        shade = rng.random(int(h / ph) + 2)[(y // ph).astype(int)]
        grain = 0.1 * np.sin(x * (_TAU / u(20, 60)) + 3 * smooth_noise(rng, h, w, 16))
        p = np.where(y % ph < 1.2, 0.0, 0.3 + 0.4 * shade + grain)
    elif kind == "ripples":
        p = 0.5 + 0.4 * np.sin(y * (_TAU / u(3.5, 7)) + 2.5 * smooth_noise(rng, h, w, 24))
    elif kind == "grass":  # vertical blades: noise interpolated only along y
        blades = rng.standard_normal((max(2, h // 10), w)).astype(np.float32)
        p = 0.5 + 0.3 * np.asarray(Image.fromarray(blades).resize((w, h), Image.BILINEAR)) + 0.1 * smooth_noise(rng, h, w, 20)
    elif kind == "foliage":
        p = 0.5 + 0.3 * smooth_noise(rng, h, w, 5) + 0.2 * smooth_noise(rng, h, w, 18)
    elif kind == "rock":
        p = 0.5 + 0.25 * smooth_noise(rng, h, w, 20) + 0.2 * np.sin((x * u(-1, 1) + y) * (_TAU / u(8, 16)))
    elif kind == "asphalt":
        p = 0.5 + 0.22 * rng.standard_normal((h, w), dtype=np.float32) + 0.1 * smooth_noise(rng, h, w, 40)
    elif kind == "fabric":
        p1, p2 = _TAU / u(3, 6), _TAU / u(3, 6)
        p = 0.5 + 0.3 * np.sin((x + y) * p1) * (0.6 + 0.4 * np.sin((x - y) * p2))
    elif kind == "wood":
        p = 0.5 + 0.3 * np.sin(x * (_TAU / u(3, 8)) + 2 * smooth_noise(rng, h, w, 12)) + 0 * y
    elif kind == "glass":  # a diagonal reflection across a darker pane
        p = 0.25 + 0.6 * np.clip(1 - np.abs(x - y * u(0.5, 1.5) - u(0, w)) / (0.15 * w + 1), 0, 1)
    elif kind == "rings":  # concentric circles about a point
        cy, cx, period = u(0, h), u(0, w), u(4, 8)
        p = 0.5 + 0.4 * np.sin(np.sqrt((y - cy) ** 2 + (x - cx) ** 2) * (_TAU / period))
    elif kind == "dots":  # a grid of round spots
        s = u(4, 7)
        p = 0.25 + 0.6 * ((((x % s) - s / 2) ** 2 + ((y % s) - s / 2) ** 2) < (s * 0.3) ** 2)
    elif kind == "hatch":  # thin diagonal lines
        p = 0.3 + 0.55 * (((x + y) % u(4, 7)) < 1.6)
    elif kind == "zigzag":  # horizontal chevrons
        period = u(6, 10)
        p = 0.5 + 0.4 * np.sign(np.sin((y + np.abs((x % period) - period / 2)) * (_TAU / period)))
    else:
        raise ValueError(f"unknown texture {kind!r}")
    return np.broadcast_to(p, (h, w))
