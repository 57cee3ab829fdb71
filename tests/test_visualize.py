"""Pictures: colour lookups, blends, error maps, grids, legends and the IoU chart."""

from __future__ import annotations

import numpy as np
from PIL import Image

from swinseg.data.classes import ClassInfo
from swinseg.visualize import (
    colorize,
    comparison_grid,
    confidence_image,
    error_map,
    iou_bar_chart,
    legend,
    overlay,
)

CLASSES = ClassInfo(("sky", "road", "car"), ((10, 20, 30), (40, 50, 60), (70, 80, 90)))


def test_colorize_looks_up_the_palette_and_blacks_out_the_rest():
    labels = np.array([[0, 1], [2, 255]])
    out = colorize(labels, CLASSES.palette)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [10, 20, 30] and out[1, 0].tolist() == [70, 80, 90] and out[1, 1].tolist() == [0, 0, 0]
    assert colorize(np.array([[-1, 300]]), CLASSES.palette).tolist() == [[[0, 0, 0], [0, 0, 0]]]


def test_overlay_is_the_alpha_blend():
    image = np.full((1, 2, 3), 200, np.uint8)
    out = overlay(image, np.array([[0, 2]]), CLASSES.palette, alpha=0.25)
    assert out[0, 0].tolist() == [int(0.75 * 200 + 0.25 * v + 0.5) for v in (10, 20, 30)]
    assert out[0, 1].tolist() == [int(0.75 * 200 + 0.25 * v + 0.5) for v in (70, 80, 90)]


def test_error_map_and_confidence():
    out = error_map(np.array([[0, 1, 2]]), np.array([[0, 2, 255]]))
    assert out[0].tolist() == [[40, 160, 60], [220, 40, 40], [0, 0, 0]]
    assert confidence_image(np.array([0.0, 0.5, 1.0, 1.5])).tolist() == [0, 128, 255, 255]


def test_grid_legend_and_chart_sizes(tmp_path):
    tile = np.zeros((30, 40, 3), np.uint8)
    grid = comparison_grid([[tile, tile], [tile, tile]], ("a", "b"), row_labels=["x", "y"], tile_size=(64, 48))
    assert grid.size == (140 + 2 * 64, 20 + 2 * 48)
    assert legend(CLASSES, [0, 2]).size[1] == 2 * 20 + 4
    path = iou_bar_chart([{"name": "sky", "IoU": 50.0}, {"name": "car", "IoU": None}], tmp_path / "iou.png")
    assert Image.open(path).format == "PNG"


