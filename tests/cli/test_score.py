"""``swinseg score``: a folder of predicted PNGs scored as ``evaluate`` scores the model that wrote them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from swinseg.cli import main
from tests.cli.conftest import error_line

# ----------------------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# score, data synth
# ----------------------------------------------------------------------------------------------------------


def test_score_folder_of_predictions(synth_and_model, tmp_path, capsys):
    root, _ = synth_and_model
    ann_dir = root / "annotations/validation"
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    rng = np.random.default_rng(0)
    expected_hits = expected_valid = 0
    for ann in sorted(ann_dir.glob("*.png")):
        raw = np.array(Image.open(ann))
        label = raw.astype(np.int64) - 1  # ADE20K: 0 is "other" (ignored), v is class v - 1
        pred = np.where(rng.random(raw.shape) < 0.3, 0, np.maximum(label, 0))
        Image.fromarray(pred.astype(np.uint8)).save(pred_dir / ann.name)
        valid = raw > 0
        expected_hits += int((pred == label)[valid].sum())
        expected_valid += int(valid.sum())
    out = tmp_path / "scores.json"
    assert main(["score", str(pred_dir), str(ann_dir), "--out", str(out)]) == 0
    assert "4 images" in capsys.readouterr().out
    assert json.loads(out.read_text())["aAcc"] == pytest.approx(100 * expected_hits / expected_valid)

    (pred_dir / sorted(ann_dir.glob("*.png"))[0].name).unlink()
    assert main(["score", str(pred_dir), str(ann_dir)]) == 1
    assert "prediction missing for annotation" in error_line(capsys)


