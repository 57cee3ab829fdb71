"""score_folder: the ADE20K devkit's numbers on real and perturbed annotations, errors naming the file, suffixes
and reduce_zero_label."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from swinseg.data.io import DataError, write_label_png
from swinseg.evaluation.score_folder import score_folder

REPO = Path(__file__).resolve().parents[2]
ADE = REPO.parent / "shared" / "data" / "ade20k-sample" / "ADEChallengeData2016"


def approx(x):
    return pytest.approx(x, abs=1e-9)


def devkit_intersection_and_union(im_pred: np.ndarray, im_lab: np.ndarray, num_class: int):
    """CSAILVision/sceneparsing evaluationCode/utils_eval.py ``intersectionAndUnion``, as written there."""
    im_pred = np.asarray(im_pred)
    im_lab = np.asarray(im_lab)
    im_pred = im_pred * (im_lab > 0)
    intersection = im_pred * (im_pred == im_lab)
    (area_intersection, _) = np.histogram(intersection, bins=num_class, range=(1, num_class))
    (area_pred, _) = np.histogram(im_pred, bins=num_class, range=(1, num_class))
    (area_lab, _) = np.histogram(im_lab, bins=num_class, range=(1, num_class))
    return area_intersection, area_pred + area_lab - area_intersection


def devkit_pixel_accuracy(im_pred: np.ndarray, im_lab: np.ndarray):
    """utils_eval.py ``pixelAccuracy``: (correct, labelled)."""
    return np.sum((im_pred == im_lab) * (im_lab > 0)), np.sum(im_lab > 0)


def perturb(ann: np.ndarray, seed: int) -> np.ndarray:
    """A devkit-style prediction (0..150, 0 = nothing predicted) made from an annotation deterministically."""
    rng = np.random.default_rng(seed)
    pred = ann.astype(np.int64).copy()
    h, w = pred.shape
    pred[h // 4 : h // 2, w // 4 : w // 2] = ann[h // 4 - 20 : h // 2 - 20, w // 4 - 30 : w // 2 - 30]  # shifted
    pred[(ann == 1)[:, : w // 2].nonzero()] = 4  # one class confused with another on the left half
    pred[pred == 3] = 149
    noise = rng.random(pred.shape) < 0.05
    pred[noise] = rng.integers(1, 61, noise.sum())  # classes 1..60: many others stay absent
    pred[rng.random(pred.shape) < 0.01] = 0  # no prediction
    return pred


@pytest.mark.skipif(not ADE.is_dir(), reason=f"ADE20K sample not found at {ADE}")
def test_score_folder_matches_ade20k_devkit(tmp_path):
    """Devkit labels are raw (1..150, 0 unlabelled); ours are reduce_zero_label's (0..149, 255 ignored): a devkit
    prediction p maps to p - 1 (0 -> 255, outside [0, 150)), the annotations stay raw with reduce_zero_label=True."""
    from swinseg.data.io import read_mask

    ann_dir = ADE / "annotations" / "validation"
    total_i, total_u, correct, labelled = np.zeros(150), np.zeros(150), 0, 0
    for n, ann_path in enumerate(sorted(ann_dir.glob("ADE_val_*.png"))):
        ann = read_mask(ann_path)
        pred = perturb(ann, n)
        i, u = devkit_intersection_and_union(pred, ann, 150)
        total_i, total_u = total_i + i, total_u + u
        c, lab = devkit_pixel_accuracy(pred, ann)
        correct, labelled = correct + c, labelled + lab
        write_label_png(tmp_path / ann_path.name, np.where(pred == 0, 255, pred - 1))
    assert n == 2 and total_u.sum() > 0

    r = score_folder(tmp_path, ann_dir, 150, reduce_zero_label=True, progress=False, devkit=True)
    assert r["num_images"] == 3
    np.testing.assert_array_equal([c["area_intersect"] for c in r["per_class"]], total_i)
    np.testing.assert_array_equal([c["area_union"] for c in r["per_class"]], total_u)
    devkit_miou = np.mean(total_i / (np.spacing(1) + total_u))  # demoEvaluation.m's summary
    assert r["mIoU_devkit"] == pytest.approx(100 * devkit_miou, rel=1e-12)
    assert r["aAcc"] == pytest.approx(100 * correct / labelled, rel=1e-12)
    present = total_u > 0
    assert r["mIoU"] == pytest.approx(100 * np.mean(total_i[present] / total_u[present]), rel=1e-12)
    assert r["mIoU"] > r["mIoU_devkit"]  # absent classes count as 0 in the devkit's mean only


def test_score_folder_errors_name_the_file(tmp_path):
    ann, pred = tmp_path / "ann", tmp_path / "pred"
    labels = np.array([[0, 1], [2, 255]])
    write_label_png(ann / "x" / "a.png", labels)
    write_label_png(ann / "b.png", labels)
    write_label_png(pred / "x" / "a.png", labels)
    with pytest.raises(DataError, match=r"b\.png: prediction missing"):
        score_folder(pred, ann, 3, progress=False)
    write_label_png(pred / "b.png", np.zeros((3, 2)))
    with pytest.raises(DataError, match=r"pred/b\.png: prediction size \(3, 2\) differs"):
        score_folder(pred, ann, 3, progress=False)
    write_label_png(pred / "b.png", labels, overwrite=True)
    r = score_folder(pred, ann, 3, class_names=["p", "q", "r"], progress=False)
    assert r["num_images"] == 2 and r["aAcc"] == 100.0 and r["per_class"][2]["name"] == "r"
    write_label_png(pred / "c.png", labels)
    with pytest.raises(DataError, match=r"c\.png: prediction without an annotation"):
        score_folder(pred, ann, 3, progress=False)
    (pred / "c.png").unlink()
    (pred / "b.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"b\.png: unreadable"):
        score_folder(pred, ann, 3, progress=False)
    write_label_png(pred / "b.png", labels, overwrite=True)
    write_label_png(ann / "b.png", np.array([[0, 5], [1, 1]]), overwrite=True)
    with pytest.raises(DataError, match=r"ann/b\.png: target values \[5\]"):
        score_folder(pred, ann, 3, progress=False)
    with pytest.raises(DataError, match="not found"):
        score_folder(tmp_path / "nope", ann, 3, progress=False)


def test_score_folder_suffixes_and_reduce_zero_label(tmp_path):
    write_label_png(tmp_path / "gt" / "img1_gt.png", np.array([[0, 1, 2], [3, 3, 255]]))
    write_label_png(tmp_path / "pr" / "img1.png", np.array([[7, 0, 1], [2, 0, 9]]))
    r = score_folder(tmp_path / "pr", tmp_path / "gt", 3, reduce_zero_label=True, ann_suffix="_gt.png",
                     progress=False)
    # reduced ground truth [[255, 0, 1], [2, 2, 255]]: 4 labelled pixels, 3 correct
    assert r["aAcc"] == 75.0
    assert [c["area_label"] for c in r["per_class"]] == [1, 1, 2]
    assert [c["area_intersect"] for c in r["per_class"]] == [1, 1, 1]
    assert [c["area_pred"] for c in r["per_class"]] == [2, 1, 1]  # 7 and 9 sit on ignored pixels
    assert math.isclose(r["mIoU"], 100 * (1 / 2 + 1 / 1 + 1 / 2) / 3)


def test_one_based_annotations_without_reduce_zero_label_name_the_option(tmp_path):
    write_label_png(tmp_path / "gt" / "a.png", np.array([[0, 1, 2], [3, 3, 1]]))  # 0 = other, 1..3 = classes
    write_label_png(tmp_path / "pr" / "a.png", np.array([[0, 0, 1], [2, 2, 0]]))
    with pytest.raises(DataError, match=r"a.png: target values \[3\] are outside \[0, 3\).*--reduce-zero-label"):
        score_folder(tmp_path / "pr", tmp_path / "gt", 3, progress=False)
    r = score_folder(tmp_path / "pr", tmp_path / "gt", 3, reduce_zero_label=True, progress=False)
    assert r["aAcc"] == 100.0


def test_predictions_out_of_range_on_labelled_pixels_are_refused_and_offsets_read_them(tmp_path):
    write_label_png(tmp_path / "gt" / "a.png", np.array([[0, 1, 2], [2, 1, 0]]))
    write_label_png(tmp_path / "pr" / "a.png", np.array([[1, 2, 3], [3, 2, 1]]))  # 1-based: 0..2 + 1
    with pytest.raises(DataError, match=r"pr/a.png: prediction values 1..3 are not class indices 0..2 .*"
                       r"--pred-format ade-release"):  # fmt: skip
        score_folder(tmp_path / "pr", tmp_path / "gt", 3, progress=False)
    assert score_folder(tmp_path / "pr", tmp_path / "gt", 3, progress=False, pred_offset=1)["aAcc"] == 100.0
    write_label_png(tmp_path / "pr2" / "a.png", np.array([[0, 1, 2], [2, 1, 9]]))
    with pytest.raises(DataError, match="values 0..9"):
        score_folder(tmp_path / "pr2", tmp_path / "gt", 3, progress=False)
