"""evaluate(): the same numbers as predictions made and scored by hand; flip, TTA and sliding windows run through
the dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from swinseg.data.classes import load_classes_file
from swinseg.data.datasets import folder_dataset
from swinseg.data.io import read_image, write_label_png
from swinseg.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform
from swinseg.evaluation import evaluate as evaluate_module
from swinseg.evaluation.evaluate import evaluate, evaluate_images
from swinseg.evaluation.metrics import ConfusionMatrix
from swinseg.evaluation.score_folder import score_folder
from swinseg.inference import InferenceConfig
from swinseg.inference.logits import predict_logits


@pytest.fixture
def model():
    """A per-pixel colour classifier for the blocks data (background, red, green, blue): sensible predictions,
    so the scores below are not those of a constant map."""
    model = torch.nn.Conv2d(3, 4, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 0, 0], [3, 0, 0], [0, 3, 0], [0, 0, 3]])[:, :, None, None])
        model.bias.zero_()
    return model.eval()


def _val_set(root):
    classes = load_classes_file(root / "classes.json")
    return folder_dataset(root / "val/img", root / "val/ann", classes, transform=eval_transform((128, 64)),
                          transform_mask=False, progress=False)  # fmt: skip


def test_evaluate_equals_scoring_predictions_made_by_hand(blocks_dataset, model, tmp_path):
    """evaluate(): rescale to fit (scale), normalise, predict, resize logits back to the annotation, score. The same
    done by hand with PIL + torch and scored by score_folder from PNGs must give identical metrics."""
    val = _val_set(blocks_dataset)
    results = evaluate(model, val, progress=False)

    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    for image_path, mask_path in val.pairs:
        image = read_image(image_path)  # 72 x 88 -> fits (128, 64): 64 x 78
        resized = F.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(64, 78),
                                mode="bilinear", align_corners=False)  # fmt: skip
        with torch.no_grad():
            logits = model((resized[0] - mean)[None] / std)
        logits = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
        write_label_png(tmp_path / mask_path.name, logits.argmax(1)[0].numpy().astype(np.uint8))
    by_hand = score_folder(tmp_path, blocks_dataset / "val/ann", num_classes=4, progress=False)

    assert results["num_images"] == by_hand["num_images"] == 2
    assert results["mIoU"] > 80  # the colour model gets the blocks nearly right
    # cv2 and torch bilinear resizing differ by rounding only: the scores agree to a hair
    for key in ("aAcc", "mIoU", "mAcc", "mDice"):
        assert results[key] == pytest.approx(by_hand[key], abs=0.2), key
    assert [c["name"] for c in results["per_class"]] == ["background", "red", "green", "blue"]


def test_evaluate_flip_and_slide_modes_run_through_the_dataset(blocks_dataset, model):
    val = _val_set(blocks_dataset)
    whole = evaluate(model, val, progress=False)
    one_window = evaluate(model, val, InferenceConfig("slide", (128, 128), (85, 85)), progress=False)
    assert one_window["mIoU"] == pytest.approx(whole["mIoU"], abs=1e-9)  # one window covers the image
    flipped = evaluate(model, val, InferenceConfig(flip=True), progress=False)
    assert flipped["mIoU"] == pytest.approx(whole["mIoU"], abs=1e-9)  # a per-pixel model is flip-equivariant
    tta = evaluate(model, val, InferenceConfig(scales=(0.5, 1.0, 1.5), flip=True), progress=False)
    assert tta["mIoU"] == pytest.approx(whole["mIoU"], abs=2.0)  # rescaled views move only the block borders


class StrideFourModel(torch.nn.Module):
    """A segmentor's interface around the colour classifier: ``head_logits`` at stride 4 (4x4 means), ``forward``
    those resized to the input (bilinear), as swinseg's models do in eval mode."""

    def __init__(self, pixel_model: torch.nn.Module) -> None:
        super().__init__()
        self.pixel_model = pixel_model

    def head_logits(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.pixel_model(x), 4, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.head_logits(x), size=x.shape[2:], mode="bilinear", align_corners=False)


def test_evaluate_takes_the_labels_from_the_head_logits(blocks_dataset, model, monkeypatch):
    """A whole image through a model with ``head_logits``: the labels come from the head's stride-4 logits (both
    resizes composed), never the logits at the annotation's size; the same areas as predict_logits + argmax."""
    model = StrideFourModel(model).eval()
    val = _val_set(blocks_dataset)
    expected = ConfusionMatrix(4, val.ignore_index)
    for index in range(len(val)):
        sample = val[index]
        logits = predict_logits(model, sample["image"][None], tuple(sample["mask"].shape))
        expected.update(logits.argmax(1)[0], sample["mask"])

    def no_logits(*args, **kwargs):
        raise AssertionError("evaluate resized the logits to the annotation's size")

    monkeypatch.setattr(evaluate_module, "predict_logits", no_logits)
    stats = evaluate_images(model, val, progress=False)
    np.testing.assert_array_equal(stats.intersect.sum(0), expected.area_intersect)
    np.testing.assert_array_equal(stats.pred.sum(0), expected.area_pred)
    assert (stats.pred.sum(0) > 0).sum() == 4  # every class predicted somewhere: boundaries were interpolated
