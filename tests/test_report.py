"""The results report: Markdown with a picture grid, a per-class IoU chart and a legend."""

from __future__ import annotations

import numpy as np

from swinseg.data.classes import ClassInfo
from swinseg.report import Sample, write_report

CLASSES = ClassInfo(("sky", "road", "car"), ((10, 20, 30), (40, 50, 60), (70, 80, 90)))


def test_report_writes_markdown_and_pictures(tmp_path):
    target = np.array([[0, 0, 1], [1, 2, 255]])
    prediction = np.array([[0, 1, 1], [1, 2, 2]])
    results = {"aAcc": 80.0, "mIoU": 61.1, "mAcc": 83.3, "mDice": 70.0, "mFscore": 70.0,
               "per_class": [{"name": n, "IoU": v, "Acc": v, "Dice": v} for n, v in zip(CLASSES.names, (50.0, 66.7, None))]}  # fmt: skip
    image = np.zeros((2, 3, 3), np.uint8)
    path = write_report(tmp_path / "r", results, [Sample("a.jpg", image, target, prediction)], CLASSES, details=["model: x"])
    text = path.read_text()
    assert "- model: x" in text and "| 61.10 |" in text and "| road | 66.70 |" in text
    assert "| car |" not in text  # classes absent from ground truth and predictions are left out
    for name in ("samples.png", "iou.png", "legend.png"):
        assert (tmp_path / "r" / name).is_file() and f"]({name})" in text


def test_report_draws_the_learning_curve_of_a_training_log(tmp_path):
    results = {"aAcc": 80.0, "mIoU": 50.0, "per_class": [{"name": "sky", "IoU": 50.0, "Acc": 60.0, "Dice": 66.7}]}
    labels = np.zeros((2, 2), np.int64)
    samples = [Sample("a.jpg", np.zeros((2, 2, 3), np.uint8), labels, labels)]
    log = [{"iter": 10, "loss": 1.0, "elapsed_s": 3.0}, {"iter": 10, "mIoU": 50.0, "elapsed_s": 4.0}]
    text = write_report(tmp_path / "with", results, samples, CLASSES, training_log=log).read_text()
    assert "## Learning curve" in text and (tmp_path / "with/learning.png").is_file()
    text = write_report(tmp_path / "without", results, samples, CLASSES).read_text()
    assert "Learning curve" not in text and not (tmp_path / "without/learning.png").exists()
