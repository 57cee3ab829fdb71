"""Metrics: hand-computed numbers, streaming, mmsegmentation's intersect_and_union, inference mode, markdown."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from swinseg.evaluation.metrics import (
    ConfusionMatrix,
    compute_metrics,
    results_to_markdown,
)

# K = 4. Class 0 and 1 are in the ground truth, class 2 is only predicted, class 3 is predicted only on ignored
# pixels (255), so it is absent from both.
TARGET = np.array([[0, 0, 1, 1], [0, 255, 1, 255], [1, 1, 1, 0]])
PRED = np.array([[0, 1, 1, 1], [0, 3, 2, 3], [2, 0, 1, 0]])


def hand_case() -> ConfusionMatrix:
    cm = ConfusionMatrix(4)
    cm.update(torch.from_numpy(PRED), torch.from_numpy(TARGET))
    return cm


def approx(x):
    return pytest.approx(x, abs=1e-9)


def test_hand_computed_areas_and_metrics():
    cm = hand_case()
    # 10 labelled pixels; label areas 4, 6, 0, 0; predicted areas 4, 4, 2, 0; correct 3, 3, 0, 0.
    assert cm.area_label.tolist() == [4, 6, 0, 0]
    assert cm.area_pred.tolist() == [4, 4, 2, 0]
    assert cm.area_intersect.tolist() == [3, 3, 0, 0]
    assert cm.area_union.tolist() == [5, 7, 2, 0]
    assert cm.matrix.tolist() == [[3, 1, 0, 0], [1, 3, 2, 0], [0, 0, 0, 0], [0, 0, 0, 0]]

    r = compute_metrics(cm, class_names=["a", "b", "c", "d"], devkit=True)
    assert r["aAcc"] == approx(60.0)
    assert r["mIoU"] == approx(100 * (3 / 5 + 3 / 7 + 0) / 3)  # class d (NaN) left out
    assert r["mAcc"] == approx(62.5)  # (75 + 50) / 2: c and d have no label pixels
    assert r["mDice"] == approx(45.0)  # (75 + 60 + 0) / 3
    assert r["mPrecision"] == approx(50.0)  # (75 + 75 + 0) / 3
    assert r["mRecall"] == approx(62.5)
    assert r["mFscore"] == approx(67.5)  # (75 + 60) / 2: c has P = 0, R = NaN -> NaN
    assert r["mIoU_devkit"] == approx(100 * (3 / 5 + 3 / 7 + 0 + 0) / 4)

    a, b, c, d = r["per_class"]
    assert [a["name"], b["name"], c["name"], d["name"]] == ["a", "b", "c", "d"]
    assert (a["IoU"], a["Acc"], a["Dice"], a["Precision"], a["Recall"], a["Fscore"]) == tuple(
        map(approx, (60.0, 75.0, 75.0, 75.0, 75.0, 75.0)))
    assert (b["IoU"], b["Acc"], b["Dice"], b["Precision"], b["Recall"], b["Fscore"]) == tuple(
        map(approx, (100 * 3 / 7, 50.0, 60.0, 75.0, 50.0, 60.0)))
    assert (c["IoU"], c["Dice"], c["Precision"]) == (0.0, 0.0, 0.0)  # only predicted: IoU 0 ...
    assert c["Acc"] is None and c["Recall"] is None and c["Fscore"] is None  # ... but no accuracy
    assert all(d[k] is None for k in ("IoU", "Acc", "Dice", "Fscore", "Precision", "Recall"))
    assert (c["area_pred"], c["area_union"], d["area_union"]) == (2, 2, 0)
    assert json.loads(json.dumps(r, allow_nan=False)) == r  # JSON without NaN


def test_fscore_beta_and_input_forms():
    cm = hand_case()
    r = compute_metrics(cm, beta=2.0)
    # F2 = 5PR / (4P + R): class 0 has P = R = 0.75 -> 0.75; class 1 has P = 0.75, R = 0.5 -> 1.875 / 3.5.
    assert r["per_class"][1]["Fscore"] == approx(100 * 1.875 / 3.5)
    assert r["mFscore"] == approx(100 * (0.75 + 1.875 / 3.5) / 2)
    assert [row["name"] for row in r["per_class"]] == ["0", "1", "2", "3"]
    assert compute_metrics(cm.matrix) == compute_metrics(cm) == compute_metrics(cm.areas())
    assert compute_metrics(cm.matrix.numpy()) == compute_metrics(cm)


def test_streaming_equals_one_shot_and_numpy_input():
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 6, (4, 20, 30), generator=g)
    target[torch.rand(target.shape, generator=g) < 0.1] = 255
    pred = torch.randint(0, 6, (4, 20, 30), generator=g)
    one = ConfusionMatrix(6)
    one.update(pred, target)
    two = ConfusionMatrix(6)
    two.update(pred[:2], target[:2])
    two.update(pred[2:].numpy().astype(np.uint8), target[2:].numpy().astype(np.uint8))
    assert torch.equal(one.counts, two.counts)
    assert one.counts.sum() == (target != 255).sum()
    merged = ConfusionMatrix(6)
    half = ConfusionMatrix(6)
    half.update(pred[2:], target[2:])
    merged.update(pred[:2], target[:2])
    merged += half
    assert torch.equal(merged.counts, one.counts)
    one.reset()
    assert one.counts.sum() == 0
    per_image = ConfusionMatrix(6)
    for i in range(4):
        per_image.update(pred[i], target[i])  # (H, W) input
    assert torch.equal(per_image.counts, two.counts)


def mmseg_intersect_and_union(pred: torch.Tensor, label: torch.Tensor, k: int, ignore: int):
    """mmsegmentation's ``IoUMetric.intersect_and_union``, written out as it is there (torch.histc)."""
    mask = label != ignore
    pred, label = pred[mask], label[mask]
    inter = pred[pred == label]
    area_i = torch.histc(inter.float(), bins=k, min=0, max=k - 1)
    area_p = torch.histc(pred.float(), bins=k, min=0, max=k - 1)
    area_l = torch.histc(label.float(), bins=k, min=0, max=k - 1)
    return area_i, area_p + area_l - area_i, area_p, area_l


def test_matches_mmseg_intersect_and_union_on_random_data():
    g = torch.Generator().manual_seed(2)
    k, cm, totals = 7, ConfusionMatrix(7), [torch.zeros(7, dtype=torch.float64) for _ in range(4)]
    for _ in range(5):
        target = torch.randint(0, k - 1, (33, 41), generator=g)  # class 6 never in the ground truth
        target[torch.rand(target.shape, generator=g) < 0.15] = 255
        pred = torch.where(torch.rand(target.shape, generator=g) < 0.5, target,
                           torch.randint(0, k, target.shape, generator=g))
        pred[torch.rand(target.shape, generator=g) < 0.05] = 255  # out of range: mmseg's histc drops it
        pred[0, :3] = k
        cm.update(pred, target)
        for total, area in zip(totals, mmseg_intersect_and_union(pred, target, k, 255)):
            total += area.double()
    for ours, theirs in zip(cm.areas(), totals):
        np.testing.assert_array_equal(ours, theirs.numpy())
    i, u, p, lab = (t.numpy() for t in totals)
    r = compute_metrics(cm)
    assert r["mIoU"] == pytest.approx(100 * np.nanmean(i / u), abs=1e-9)
    assert r["mAcc"] == pytest.approx(100 * np.nanmean(i[:-1] / lab[:-1]), abs=1e-9)
    assert r["per_class"][6]["Acc"] is None and r["per_class"][6]["IoU"] == 0.0
    assert r["aAcc"] == pytest.approx(100 * i.sum() / lab.sum(), abs=1e-9)


def test_usable_across_inference_mode():
    with torch.inference_mode():
        cm = ConfusionMatrix(4)
        cm.update(torch.from_numpy(PRED), torch.from_numpy(TARGET))
    cm += hand_case()  # outside: in-place updates still allowed
    cm.update(torch.from_numpy(PRED), torch.from_numpy(TARGET))
    assert torch.equal(cm.counts, 3 * hand_case().counts)


def test_bad_target_values_raise_and_name_them():
    cm = ConfusionMatrix(4)
    with pytest.raises(ValueError, match=r"\[4, 7\]"):
        cm.update(torch.tensor([[0, 1, 2]]), torch.tensor([[4, 7, 255]]))
    with pytest.raises(ValueError, match=r"\[-1\]"):
        cm.update(np.array([0, 1]), np.array([-1, 0]))
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        cm.update(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long))
    assert cm.counts.sum() == 0  # nothing half-added


def test_ignore_index_other_than_255():
    cm = ConfusionMatrix(3, ignore_index=0)
    cm.update(torch.tensor([2, 1, 1]), torch.tensor([0, 1, 2]))
    assert cm.area_label.tolist() == [0, 1, 1] and cm.area_intersect.tolist() == [0, 1, 0]


def test_all_reduce_single_process(tmp_path):
    cm = hand_case()
    before = cm.counts.clone()
    assert cm.all_reduce() is cm and torch.equal(cm.counts, before)  # not initialised: no-op
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert torch.equal(cm.all_reduce().counts, before)
        with torch.inference_mode():  # as an evaluation loop calls it
            assert torch.equal(cm.all_reduce().counts, before)
    finally:
        torch.distributed.destroy_process_group()


def test_markdown_has_names_and_formatted_numbers():
    md = results_to_markdown(compute_metrics(hand_case(), class_names=["wall", "sky", "a|b", "tree"], devkit=True))
    assert "| aAcc | mIoU | mAcc | mDice | mFscore | mIoU_devkit |" in md
    assert "| 60.00 | 34.29 | 62.50 | 45.00 | 67.50 | 25.71 |" in md
    assert "| wall | 60.00 | 75.00 | 75.00 |" in md
    assert "| sky | 42.86 | 50.00 | 60.00 |" in md
    assert "| a\\|b | 0.00 | nan | 0.00 |" in md
    assert "| tree | nan | nan | nan |" in md


