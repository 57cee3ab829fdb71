"""``swinseg demo`` end to end on a few scenes and iterations: data, training, evaluation, predictions, report."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from swinseg.cli import main
from swinseg.data.io import read_mask


def test_demo_writes_a_report_with_pictures_and_resumes(tmp_path, capsys):
    work = tmp_path / "demo"
    args = ["demo", "--work-dir", str(work), "--iters", "2", "--num-train", "4", "--num-val", "3", "--quiet"]
    assert main(args) == 0
    report = work / "report/report.md"
    assert capsys.readouterr().out.strip() == f"report: {report.resolve()}"
    metrics = json.loads((work / "report/metrics.json").read_text())
    text = report.read_text()
    assert f"| {metrics['aAcc']:.2f} | {metrics['mIoU']:.2f} |" in text
    baselines = metrics["baselines"]
    assert 0 < baselines["commonest_class_mIoU"] < 30 and 0 < baselines["colour_lookup_mIoU"] < 50, baselines
    assert f"mIoU {baselines['colour_lookup_mIoU']:.2f}" in text
    assert "trained from scratch" in text and "not for real photos" in text
    for picture in ("samples.png", "iou.png", "legend.png", "learning.png"):
        assert Image.open(work / "report" / picture).format == "PNG"
        assert f"]({picture})" in text
    images = sorted((work / "data/images/validation").glob("*.jpg"))
    assert len(images) == 3
    for image in images:  # a label PNG at the image's size, and an overlay, per validation image
        label = read_mask(work / "predictions" / f"{image.stem}.png")
        assert label.shape == np.array(Image.open(image)).shape[:2]
        assert (work / "predictions" / f"{image.stem}_overlay.jpg").is_file()

    # a second run re-uses the data and the finished training (same weights), and rewrites the report
    weights = (work / "run/best.safetensors").read_bytes()
    assert main(args) == 0
    assert (work / "run/best.safetensors").read_bytes() == weights
    assert json.loads((work / "report/metrics.json").read_text())["mIoU"] == metrics["mIoU"]
