"""Pictures: colour lookups, blends, error maps, grids, legends and the IoU chart."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from swinseg.data.classes import ClassInfo
from swinseg.visualize import (
    colorize,
    comparison_grid,
    confidence_image,
    error_map,
    iou_bar_chart,
    learning_curve_chart,
    legend,
    minutes_at_iterations,
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




def test_learning_curve_has_a_minutes_axis_unless_the_clock_restarted(tmp_path):
    log = [{"iter": 20, "loss": 2.0, "elapsed_s": 6.0}, {"iter": 40, "loss": 1.5, "elapsed_s": 12.0},
           {"iter": 40, "mIoU": 10.0, "elapsed_s": 13.0}, {"iter": 60, "loss": 1.0, "elapsed_s": 19.0}]  # fmt: skip
    iters, minutes = minutes_at_iterations(log)
    assert iters.tolist() == [0, 20, 40, 60]
    np.testing.assert_allclose(minutes, [0, 0.1, 0.2, 19 / 60])  # the evaluation's later time is not used
    resumed = [*log, {"iter": 80, "loss": 0.9, "elapsed_s": 5.0}]  # a resumed run restarts its clock
    assert minutes_at_iterations(resumed) is None
    for records in (log, resumed):
        path = learning_curve_chart(records, tmp_path / "curve.png")
        assert Image.open(path).size == (700, 320)
    with pytest.raises(ValueError, match="no training or evaluation records"):
        learning_curve_chart([{"iter": 1, "lr": 0.1}], tmp_path / "empty.png")
