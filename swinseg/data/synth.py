"""Deterministic synthetic ADE20K-style datasets, for demos, tests and benchmarks without downloads.

Every scene is a pure function of its seed. Half the scenes are outdoor: sky at the top, an optional band of
mountains, buildings and trees behind a wavy horizon, and 1-3 ground bands (road, grass, sidewalk, water), with
cars on roads and people and trees standing on the ground. The other half are indoor: wall, an optional ceiling
and a floor meeting it along a room corner, with windows, paintings and doors on the wall and beds, tables,
chairs, lamps and people on the floor. Things are composite shapes (a car is a body, a cabin and two wheels; a
person a head, a body and two legs) scaled by their depth, slightly rotated, and drawn far to near so that
they occlude each other. Label 0 ("other", as in the ADE release) marks random clutter objects, skirting boards
and kerbs.

Two :data:`VARIANTS` draw the same layouts:

- ``hard`` (:func:`generate_ade20k`, the learning test's and the learning-curve benchmark's): classes share
  textures as well as colours, so that shape and context must tell them apart (a flat light patch is ceiling
  above a wall but a car when it has wheels on a road; a painting is a framed patch of any texture), and the
  camera adds strong noise. ``tests/data/test_synth.py`` measures that a per-colour majority vote fitted on some
  scenes gets 15-21 % of the pixels of other scenes right.
- ``easy`` (:func:`generate_easy`, the demo's): each class has a texture of its own (the colours are still
  shared), things are bigger and more frequent, furniture is sturdier, and the camera is cleaner. A small Swin
  learns it from scratch in minutes on a CPU; a per-colour lookup scores mIoU 5 on it.

Why neither is a colour lookup: colours come from a small set of base colours shared between classes (a wall,
a sky and a window can all be light blue; a road, a building and a floor all grey), jittered per object, then
the whole image gets a brightness/contrast change, a lighting gradient, pixel noise, blur and JPEG.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from swinseg.core.progress import progress as progress_bar

from .classes import ClassInfo, ade20k_classes
from .io import atomic_write, write_label_png
from .textures import texture

__all__ = [
    "GENERATOR_VERSION",
    "SYNTH_CLASSES",
    "VARIANTS",
    "easy_classes",
    "generate_ade20k",
    "generate_easy",
    "render_scene",
    "scene_seed",
]

GENERATOR_VERSION = 1  # bump whenever render_scene's output changes
SYNTH_CLASSES: tuple[str, ...] = (
    "sky", "building", "mountain", "tree", "road", "grass", "sidewalk", "water", "car", "person",
    "wall", "floor", "ceiling", "windowpane", "door", "painting", "bed", "table", "chair", "lamp",
)  # fmt: skip
_V = {name: ade20k_classes().names.index(name) + 1 for name in SYNTH_CLASSES}  # raw value = ADE index + 1

_COLOURS = {  # base colours shared between classes, so that a colour alone rarely names the class
    "grey": (128, 128, 128), "light": (200, 198, 190), "white": (230, 230, 226), "dark": (60, 60, 66),
    "beige": (192, 172, 134), "brown": (122, 86, 56), "green": (72, 122, 52), "olive": (116, 122, 64),
    "blue": (92, 132, 192), "slate": (102, 116, 136), "red": (156, 64, 52),
}  # fmt: skip
_STYLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # class: (textures, colours)
    "sky": (("gradient", "clouds"), ("blue", "light", "slate", "white")),
    "building": (("windows", "bricks"), ("grey", "beige", "brown", "red", "slate", "light")),
    "mountain": (("rock",), ("slate", "brown", "olive", "grey", "blue")),
    "tree": (("foliage",), ("green", "olive", "dark", "brown")),
    "road": (("asphalt",), ("grey", "dark", "slate", "beige")),
    "grass": (("grass",), ("green", "olive", "beige")),
    "sidewalk": (("grid", "bricks"), ("grey", "light", "beige", "red")),
    "water": (("ripples",), ("blue", "slate", "green", "dark")),
    "wall": (("stripes", "flat", "bricks"), ("beige", "light", "white", "blue", "grey", "red", "green")),
    "floor": (("planks", "checker"), ("brown", "beige", "grey", "dark")),
    "ceiling": (("flat", "grid"), ("white", "light", "beige")),
    "windowpane": (("glass",), ("blue", "light", "slate")),
    "door": (("wood",), ("brown", "white", "red", "dark")),
    "bed": (("fabric",), ("white", "beige", "blue", "red")),
    "table": (("wood",), ("brown", "dark", "light")),
    "chair": (("wood", "fabric"), ("brown", "dark", "red", "grey")),
    "lamp": (("flat", "gloss"), ("white", "beige", "light")),
    "person": (("fabric", "flat"), ("red", "blue", "dark", "beige", "green")),
    "car": (("gloss",), ("red", "blue", "white", "dark", "grey")),
}
_EASY_TEXTURES = {  # one texture a class, none shared: the texture names the class, the colour does not
    "sky": "clouds", "building": "windows", "mountain": "rock", "tree": "foliage", "road": "asphalt",
    "grass": "grass", "sidewalk": "bricks", "water": "ripples", "person": "dots", "wall": "stripes",
    "floor": "planks", "ceiling": "flat", "windowpane": "grid", "door": "wood", "painting": "rings", "bed": "fabric",
    "table": "hatch", "chair": "zigzag", "lamp": "gloss", "car": "checker",
}  # fmt: skip


@dataclass(frozen=True)
class _Variant:
    """How hard a synthetic set is: the textures and colours of each class, the clutter, the camera's noise."""

    styles: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
    thing_scale: float  # things' sizes times this
    leg_width: float  # the legs and tops of tables and chairs, as a share of their width
    thing_odds: float  # odds of each candidate thing on a floor (outdoor: 1 + this x 10 things at most)
    wall_thing_odds: float  # odds of each candidate window, painting and door
    clutter_odds: tuple[float, float, float]  # odds of 0, 1, 2 clutter objects
    contrast: tuple[float, float]
    noise: tuple[float, float]  # pixel noise sigma
    blur: tuple[float, float]  # Gaussian blur radius

    @property
    def kinds(self) -> list[str]:
        return sorted({k for kinds, _ in self.styles.values() for k in kinds})


VARIANTS = {
    "hard": _Variant(styles=_STYLES, thing_scale=1.0, leg_width=0.06, thing_odds=0.4, wall_thing_odds=0.45,
                     clutter_odds=(0.45, 0.35, 0.2), contrast=(0.7, 1.2), noise=(2, 7), blur=(0.3, 0.8)),
    "easy": _Variant(styles={name: ((_EASY_TEXTURES[name],), _STYLES.get(name, ((), tuple(_COLOURS)))[1])
                             for name in SYNTH_CLASSES},  # the hard set's colours ("painting": any colour)
                     thing_scale=1.6, leg_width=0.1, thing_odds=0.6, wall_thing_odds=0.7,
                     clutter_odds=(0.8, 0.2, 0.0), contrast=(0.85, 1.1), noise=(1, 3), blur=(0.2, 0.4)),
}  # fmt: skip
_GROUND = {"road": 0.35, "grass": 0.25, "sidewalk": 0.2, "water": 0.2}  # ground bands and their odds
_TAU = 2 * math.pi


class _Scene:
    """The canvas of one scene: a float RGB image, its labels, and painting helpers."""

    def __init__(self, rng: np.random.Generator, h: int, w: int, variant: _Variant) -> None:
        self.rng, self.h, self.w, self.variant = rng, h, w, variant
        self.img = np.zeros((3, h, w), np.float32)  # channels first: faster to paint
        self.lab = np.zeros((h, w), np.uint8)
        self.yy = np.arange(h, dtype=np.float32)[:, None]
        self.xs = np.arange(w, dtype=np.float32)

    def style(self, name: str) -> tuple[str, np.ndarray]:
        """A texture and a jittered base colour for a class ("painting" and "other": anything)."""
        kinds, colours = self.variant.styles.get(name, (self.variant.kinds, tuple(_COLOURS)))
        base = np.array(_COLOURS[colours[self.rng.integers(len(colours))]], np.float32)
        return kinds[self.rng.integers(len(kinds))], base + self.rng.normal(0, 14, 3).astype(np.float32)

    def fill(self, mask: np.ndarray, name: str, style: tuple[str, np.ndarray] | None = None) -> None:
        """Paint ``mask`` with a texture and give it the label of class ``name`` (0 for "other")."""
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if rows.size == 0:
            return
        kind, colour = style or self.style(name)
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        m = mask[y0:y1, x0:x1]
        amp = self.rng.uniform(45, 100) * (1 + 0.15 * self.rng.standard_normal(3)).astype(np.float32)
        p = texture(self.rng, kind, y1 - y0, x1 - x0)
        for c in range(3):
            np.copyto(self.img[c, y0:y1, x0:x1], p * amp[c] + (colour[c] - 0.5 * amp[c]), where=m)
        np.copyto(self.lab[y0:y1, x0:x1], _V.get(name, 0), where=m)

    def below(self, curve: np.ndarray) -> np.ndarray:
        return self.yy >= curve[None, :]

    def wave(self, base: float, amp: float) -> np.ndarray:
        """A wavy curve y(x) around ``base``: a few sinusoids plus jitter."""
        u, x, w = self.rng.uniform, self.xs, self.w
        y = sum(u(0.3, 1) * np.sin(x * (_TAU / u(w / 4, 2 * w)) + u(0, _TAU)) for _ in range(3)) / 2
        knots = self.rng.standard_normal(w // 8 + 2)
        return base + amp * (y + 0.15 * np.interp(x / 8, np.arange(knots.size), knots))

    def thing(self, parts: list, cx: float, cy: float, angle: float) -> None:
        """Draw a composite object: ``parts`` are (polygon, class, style or None), rotated about (cx, cy)."""
        c, s = math.cos(angle), math.sin(angle)
        for pts, name, style in parts:
            pts = np.asarray(pts, np.float32) - (cx, cy)
            pts = pts @ np.array([[c, s], [-s, c]], np.float32) + (cx, cy)
            img = Image.new("L", (self.w, self.h), 0)
            ImageDraw.Draw(img).polygon([tuple(p) for p in pts.tolist()], fill=1)
            self.fill(np.asarray(img, bool), name, style)


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in np.linspace(0, _TAU, 20, endpoint=False)]


def _object(sc: _Scene, name: str, cx: float, b: float, size: float) -> list:
    """The parts (polygon, class, style or None) of a thing standing at (cx, b): ``size`` is the width of a car
    or a piece of furniture, the height of a person, a tree or a lamp."""
    u, st = sc.rng.uniform, sc.style(name)
    if name == "person":  # two legs, a body, a head
        w, skin = size * u(0.22, 0.32), np.array(_COLOURS[("beige", "brown", "light")[sc.rng.integers(3)]], np.float32)
        return [(_rect(cx - w * 0.4, b - size * 0.45, cx - w * 0.05, b), name, st),
                (_rect(cx + w * 0.05, b - size * 0.45, cx + w * 0.4, b), name, st),
                (_ellipse(cx, b - size * 0.62, w / 2, size * 0.22), name, None),
                (_ellipse(cx, b - size * 0.9, w * 0.3, size * 0.1), name, ("flat", skin))]  # fmt: skip
    if name == "tree":  # a trunk under one to three crowns
        r = size * u(0.25, 0.4)
        crowns = [(_ellipse(cx + u(-0.5, 0.5) * r, b - size + r + u(-0.5, 0.5) * r, r, r * u(0.7, 1.1)), name, st)
                  for _ in range(sc.rng.integers(1, 4))]  # fmt: skip
        return [(_rect(cx - size * 0.04, b - size * 0.5, cx + size * 0.04, b), name, None), *crowns]
    if name == "car":  # body, cabin, windows, two dark wheels
        h, w, wheel = size * u(0.35, 0.5), size / 2, ("flat", np.array(_COLOURS["dark"], np.float32) * 0.5)
        y1, y0 = b - h * 0.15, b - h * 0.6
        return [(_rect(cx - w, y0, cx + w, y1), name, st),
                ([(cx - w * 0.6, y0), (cx - w * 0.4, b - h), (cx + w * 0.4, b - h), (cx + w * 0.7, y0)], name, st),
                (_rect(cx - w * 0.36, b - h * 0.92, cx + w * 0.36, y0), name, ("glass", st[1])),
                (_ellipse(cx - w * 0.6, y1, h * 0.17, h * 0.17), name, wheel),
                (_ellipse(cx + w * 0.6, y1, h * 0.17, h * 0.17), name, wheel)]  # fmt: skip
    if name == "bed":  # headboard, mattress, pillow
        h, w = size * u(0.25, 0.35), size / 2
        return [(_rect(cx - w, b - h * 1.8, cx - w * 0.84, b), name, ("wood", sc.style("table")[1])),
                (_rect(cx - w, b - h, cx + w, b), name, st),
                (_ellipse(cx - w * 0.6, b - h, w * 0.24, h * 0.25), name, None)]  # fmt: skip
    if name == "lamp":  # a pole under a shade
        w = size * u(0.25, 0.4) / 2
        return [(_rect(cx - 1.5, b - size * 0.75, cx + 1.5, b), name, ("flat", st[1] * 0.5)),
                ([(cx - w * 0.6, b - size), (cx + w * 0.6, b - size), (cx + w, b - size * 0.7),
                  (cx - w, b - size * 0.7)], name, st)]  # fmt: skip
    h, w, t = size * u(0.4, 0.7), size / 2, max(2.0, size * sc.variant.leg_width)  # a table or a chair: legs, a top
    parts = [(_rect(cx - w + t, b - h, cx - w + 2 * t, b), name, st),
             (_rect(cx + w - 2 * t, b - h, cx + w - t, b), name, st),
             (_rect(cx - w, b - h, cx + w, b - h + 2 * t), name, st)]  # fmt: skip
    if name == "chair":  # and a back
        parts.append((_rect(cx - w, b - h * 2, cx - w + 2 * t, b - h), name, st))
    return parts


def _outdoor(sc: _Scene) -> None:
    H, W, rng, u = sc.h, sc.w, sc.rng, sc.rng.uniform
    hz = u(0.35, 0.6) * H
    sc.fill(np.ones((H, W), bool), "sky")
    if rng.random() < 0.6:  # a mountain ridge: straight slopes between random peaks
        knots = np.sort(u(-0.2, 1.2, rng.integers(3, 7))) * W
        sc.fill(sc.below(np.interp(sc.xs, knots, hz - u(0.03, 0.3, knots.size) * H)), "mountain")
    back = rng.integers(4)  # 0: nothing, 1: buildings, 2: trees, 3: both
    if back & 1:  # a skyline of flat-topped blocks with gaps
        edges = np.cumsum(u(0.08, 0.3, 12) * W)
        tops = np.where(rng.random(13) < 0.75, hz - u(0.05, 0.45, 13) * H, np.inf)
        sc.fill(sc.below(tops[np.searchsorted(edges, sc.xs)]), "building")
    if back & 2:  # a bumpy tree line over part of the width
        crowns = hz - u(0.03, 0.15) * H - u(4, 12) * np.abs(np.sin(sc.xs * (_TAU / u(20, 60)) + u(0, 3)))
        lo, hi = np.sort(u(-0.3, 1.3, 2)) * W
        sc.fill(sc.below(np.where((sc.xs >= lo) & (sc.xs <= hi), crowns + sc.wave(0, 4), np.inf)), "tree")
    fracs = np.concatenate([[0.0], np.sort(u(0.15, 0.85, rng.integers(0, 3)))])
    bands, names = [], []  # 1-3 ground bands from the horizon down
    for f in fracs:
        bands.append(sc.wave(hz + f * (H - hz), u(0, 0.04) * H if f == 0 else u(0.01, 0.06) * H))
        odds = np.array([0.0 if names and g == names[-1] else p for g, p in _GROUND.items()])
        names.append(rng.choice(list(_GROUND), p=odds / odds.sum()))
        sc.fill(sc.below(bands[-1]), names[-1])
        if f > 0 and rng.random() < 0.3:  # a kerb between two ground bands
            sc.fill(sc.below(bands[-1]) & ~sc.below(bands[-1] + u(2, 4)), "other")
    bands.append(np.full(W, H + 0.0))
    things, roads = [], [j for j, g in enumerate(names) if g == "road"]
    for _ in range(rng.integers(1, 2 + round(10 * sc.variant.thing_odds))):
        cx, name = u(0, W), ("car", "tree", "person")[rng.choice(3, p=(0.4, 0.25, 0.35))]
        if name == "car" and not roads:
            continue
        j = roads[rng.integers(len(roads))] if name == "car" else 0  # cars stand on roads only
        top = min(bands[j][int(cx)], H - 1.0)
        b = u(top, max(top, bands[j + 1][int(cx)]) + 1) if name == "car" else u(top, H)
        depth = 0.15 + 0.85 * (b - hz) / (H - hz)  # things shrink towards the horizon
        size = depth * {"car": u(0.25, 0.5) * W, "tree": u(0.3, 0.7) * H, "person": u(0.25, 0.5) * H}[name]
        size *= sc.variant.thing_scale
        things.append((b, _object(sc, name, cx, b, size), cx))
    for b, parts, cx in sorted(things, key=lambda t: t[0]):  # far to near
        sc.thing(parts, cx, b, u(-0.1, 0.1))


def _indoor(sc: _Scene) -> None:
    H, W, rng, u = sc.h, sc.w, sc.rng, sc.rng.uniform
    dist = np.abs(sc.xs - u(0.2, 0.8) * W) / W  # distance from the room corner
    sc.fill(np.ones((H, W), bool), "wall")
    ceiling = u(0.08, 0.22) * H - u(0, 0.15) * H * dist
    if rng.random() < 0.75:
        sc.fill(~sc.below(ceiling), "ceiling")
    else:
        ceiling = np.zeros(W, np.float32)
    floor = u(0.55, 0.75) * H + u(0, 0.2) * H * dist
    sc.fill(sc.below(floor), "floor")
    if rng.random() < 0.5:  # a skirting board
        sc.fill(sc.below(floor - u(2, 5)) & ~sc.below(floor), "other")
    for name in ("windowpane", "painting", "painting", "door"):  # framed things on the wall
        if rng.random() >= sc.variant.wall_thing_odds:
            continue
        cx = u(0.1, 0.9) * W
        top, bottom = ceiling[int(cx)], floor[int(cx)]
        w, h = u(0.1, 0.35) * W, u(0.2, 0.55) * (bottom - top)
        y0 = u(top + 2, max(top + 3, bottom - h - 4))
        if name == "door":  # a wooden leaf standing on the floor, with a knob
            w, h = w * 0.7, u(0.6, 0.9) * (bottom - top)
            y0 = bottom - h
            knob = (_ellipse(cx + w * 0.35, y0 + h / 2, 2.5, 2.5), name, None)
            sc.thing([(_rect(cx - w / 2, y0, cx + w / 2, bottom), name, None), knob], cx, bottom, 0)
            continue
        frame, inner = 0.12 * min(w, h), sc.style(name)  # a painting's canvas shows any texture in any colour
        sc.thing([(_rect(cx - w / 2, y0, cx + w / 2, y0 + h), name, ("wood", sc.style("door")[1])),
                  (_rect(cx - w / 2 + frame, y0 + frame, cx + w / 2 - frame, y0 + h - frame), name, inner)],
                 cx, y0 + h / 2, u(-0.07, 0.07) if name == "painting" else 0)  # fmt: skip
    things = []
    for name in ("bed", "table", "table", "chair", "chair", "chair", "lamp", "person"):  # things on the floor
        if rng.random() >= sc.variant.thing_odds:
            continue
        cx = u(0, W)
        b = u(floor[int(cx)] + 2, H + 10)
        s = 0.5 + 0.5 * np.clip((b - floor[int(cx)]) / (H - floor[int(cx)] + 1), 0, 1)  # nearer is bigger
        size = s * {"bed": u(0.4, 0.7) * W, "table": u(0.2, 0.45) * W, "chair": u(0.1, 0.18) * W,
                    "lamp": u(0.3, 0.55) * H, "person": u(0.4, 0.75) * H}[name] * sc.variant.thing_scale  # fmt: skip
        things.append((b, _object(sc, name, cx, b, size), cx))
    for b, parts, cx in sorted(things, key=lambda t: t[0]):
        sc.thing(parts, cx, b, u(-0.08, 0.08))


def render_scene(seed: int, size: tuple[int, int] = (256, 256), variant: str = "hard") -> tuple[np.ndarray, np.ndarray]:
    """Render scene ``seed`` at ``size`` = (height, width) in one of the :data:`VARIANTS`.

    Returns the (H, W, 3) uint8 RGB image (before JPEG) and the (H, W) uint8 annotation in the ADE release
    convention: 0 = other / unlabeled, v = ADE class v - 1. The same arguments always give the same arrays.
    """
    h, w = int(size[0]), int(size[1])
    if h < 16 or w < 16:
        raise ValueError(f"scene size must be at least 16x16, got {size}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown synthetic variant {variant!r}; choose from {sorted(VARIANTS)}")
    look = VARIANTS[variant]
    rng = np.random.default_rng(seed)
    sc = _Scene(rng, h, w, look)
    (_outdoor if rng.random() < 0.5 else _indoor)(sc)
    for _ in range(rng.choice(3, p=look.clutter_odds)):  # clutter: "other objects", label 0
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.03, 0.15) * min(h, w)
        angles = np.sort(rng.uniform(0, _TAU, rng.integers(5, 10)))
        radii = r * rng.uniform(0.5, 1.0, angles.size)
        sc.thing([(np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1), "other", None)], cx, cy, 0)
    y, x = sc.yy / h - 0.5, sc.xs[None, :] / w - 0.5
    light = 1 + rng.uniform(-0.3, 0.3) * y + rng.uniform(-0.3, 0.3) * x  # a lighting gradient
    img = (sc.img - 128) * rng.uniform(*look.contrast) + 128 * rng.uniform(0.75, 1.2)  # contrast, brightness
    img = img * light + rng.uniform(*look.noise) * rng.standard_normal((3, h, w), dtype=np.float32)
    pil = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0))
    img = np.array(pil.filter(ImageFilter.GaussianBlur(rng.uniform(*look.blur))))
    return img, sc.lab


def scene_seed(seed: int, split: str, number: int) -> int:
    """The render_scene seed of file ``number`` (counted from 1) of ``split`` ("training" / "validation");
    the two splits never share a scene."""
    if seed < 0 or number < 1 or split not in ("training", "validation"):
        raise ValueError(f"need seed >= 0, number >= 1, split training/validation; got {seed}, {number}, {split!r}")
    return ((seed << 32) + number) * 2 + (split == "validation")


def generate_ade20k(
    root: str | Path,
    num_train: int = 64,
    num_val: int = 16,
    size: tuple[int, int] = (256, 256),
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write the hard synthetic dataset in the ADE20K release layout under ``root`` and return its
    ``ADEChallengeData2016`` folder: ``images/{training,validation}/ADE_{train,val}_%08d.jpg`` (JPEG quality 95)
    and ``annotations/.../*.png`` (palette PNGs, value v drawn in class v-1's ADE colour), plus
    ``swinseg_synth.json`` recording the generator version, variant, seed, counts and size (height, width).

    Files that already exist are kept unless ``overwrite``: every file is written atomically and is a pure
    function of (seed, size, name), so an interrupted run simply resumes. Raises ``FileExistsError`` when the
    folder holds a dataset made with another version, seed or size, or one not made by this generator. Files
    beyond the requested counts, left by an earlier larger run, are not removed.
    """
    out = Path(root) / "ADEChallengeData2016"
    _write_dataset(out, "hard", num_train, num_val, size, seed, overwrite, progress)
    return out


def generate_easy(
    root: str | Path,
    num_train: int = 256,
    num_val: int = 32,
    size: tuple[int, int] = (128, 128),
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write the easy synthetic dataset (the demo's) under ``root`` and return ``root``: the same layout as
    :func:`generate_ade20k` without the ``ADEChallengeData2016`` level, its annotations holding 0 = other and
    ``i + 1`` = :data:`SYNTH_CLASSES` ``[i]``, and a ``classes.json`` naming them in ADE20K's colours: the
    ``ade20k_layout`` dataset type reads it. Resumes and refuses like :func:`generate_ade20k`."""
    out = Path(root)
    _write_dataset(out, "easy", num_train, num_val, size, seed, overwrite, progress)
    return out


def easy_classes() -> ClassInfo:
    """The easy set's classes: :data:`SYNTH_CLASSES` with their ADE20K colours."""
    ade = ade20k_classes()
    return ClassInfo(SYNTH_CLASSES, tuple(ade.palette[ade.names.index(n)] for n in SYNTH_CLASSES))


def _write_dataset(out: Path, variant: str, num_train: int, num_val: int, size: tuple[int, int], seed: int,
                   overwrite: bool, progress: bool) -> None:  # fmt: skip
    """The files of one variant under ``out`` (the two generators' shared body); the easy set's labels are
    renumbered 1..20 and its classes written to ``classes.json``."""
    meta_path = out / "swinseg_synth.json"
    meta = {"generator": "swinseg.data.synth", "version": GENERATOR_VERSION, "variant": variant, "seed": seed,
            "size": [int(size[0]), int(size[1])], "num_train": num_train, "num_val": num_val}  # fmt: skip
    if meta_path.exists():
        old = {"variant": "hard", **json.loads(meta_path.read_text())}  # version 1 files were all hard
        if not overwrite and any(old.get(k) != meta[k] for k in ("generator", "version", "variant", "seed", "size")):
            raise FileExistsError(f"{out}: holds a synthetic dataset with other settings (pass overwrite)")
    elif any(p.is_file() for d in ("images", "annotations") for p in (out / d).rglob("*")):
        raise FileExistsError(f"{out}: holds a dataset not made by swinseg.data.synth; refusing to write into it")
    atomic_write(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2) + "\n"), overwrite=True)
    if variant == "easy":
        classes = easy_classes()
        to_label = np.zeros(256, np.uint8)  # ADE value (class index + 1) -> easy value
        for i, name in enumerate(SYNTH_CLASSES):
            to_label[_V[name]] = i + 1
        text = json.dumps(classes.to_dict(), indent=1) + "\n"
        atomic_write(out / "classes.json", lambda tmp: Path(tmp).write_text(text), overwrite=True)
        palette = [0, 0, 0] + classes.flat_palette()[:765]
    else:
        to_label, palette = np.arange(256, dtype=np.uint8), [0, 0, 0] + ade20k_classes().flat_palette()[:765]
    jobs = [("training", "train", n) for n in range(1, num_train + 1)]
    jobs += [("validation", "val", n) for n in range(1, num_val + 1)]
    bar = progress_bar(jobs, desc=f"synthetic scenes ({variant})", unit="img", disable=not progress)
    for split, short, n in bar:
        image = out / "images" / split / f"ADE_{short}_{n:08d}.jpg"
        annotation = out / "annotations" / split / f"ADE_{short}_{n:08d}.png"
        if not overwrite and image.exists() and annotation.exists():
            continue
        img, lab = render_scene(scene_seed(seed, split, n), size, variant)
        if overwrite or not image.exists():
            pil = Image.fromarray(img)
            atomic_write(image, lambda tmp: pil.save(tmp, format="JPEG", quality=95), overwrite=True)
        if overwrite or not annotation.exists():
            write_label_png(annotation, to_label[lab], palette=palette, overwrite=True)
