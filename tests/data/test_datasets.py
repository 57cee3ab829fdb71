"""Dataset layouts (ADE20K, folder, VOC, Cityscapes), up-front validation, seeded items, build_dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from swinseg.data.classes import (
    ClassInfo,
    ade20k_classes,
    cityscapes_classes,
    voc_classes,
)
from swinseg.data.config import DataConfig, build_dataset
from swinseg.data.datasets import (
    SegmentationDataset,
    ade20k_dataset,
    cityscapes_dataset,
    folder_dataset,
    pair_files,
    voc_dataset,
)
from swinseg.data.io import DataError, read_image, read_mask
from swinseg.data.transforms import eval_transform, rescale_size, train_transform

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ADE_SAMPLE = SHARED / "ade20k-sample" / "ADEChallengeData2016"
REAL_DEV = SHARED / "real-dev"

FOUR = ClassInfo(("a", "b", "c", "d"), ((0, 0, 0), (1, 1, 1), (2, 2, 2), (3, 3, 3)))


def _image(path: Path, hw=(12, 16), seed=0) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)
    Image.fromarray(a).save(path, quality=95)
    return a


def _mask(path: Path, values: np.ndarray, palette: list[int] | None = None) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    values = np.asarray(values)
    if values.max() > 255:
        Image.fromarray(values.astype(np.uint16)).save(path)
    else:
        img = Image.fromarray(values.astype(np.uint8), "L")
        if palette is not None:
            img.putpalette(palette)
        img.save(path)
    return values


def _labels(hw=(12, 16), values=(0, 1, 2, 3), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).choice(np.array(values), size=hw).astype(np.int32)


def _folder(tmp_path: Path, n=2, hw=(12, 16), values=(0, 1, 2, 3)) -> tuple[Path, Path]:
    imgs, anns = tmp_path / "img", tmp_path / "ann"
    for i in range(n):
        _image(imgs / f"s{i}.jpg", hw, seed=i)
        _mask(anns / f"s{i}.png", _labels(hw, values, seed=i))
    return imgs, anns


def _raises_naming(path: Path, *words: str):
    """pytest.raises(DataError) whose message names ``path`` and holds every word."""
    return pytest.raises(DataError, match=re.escape(str(path)) + ".*" + ".*".join(re.escape(w) for w in words))


# --------------------------------------------------------------------------------------------------------------
# ADE20K
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def ade_sample():
    if not (ADE_SAMPLE / "images" / "validation").is_dir():
        pytest.skip(f"{ADE_SAMPLE} not present")
    return ADE_SAMPLE


@pytest.mark.parametrize("parent", [False, True])
def test_ade20k_real_sample_reduce_zero_label(ade_sample, parent):
    ds = ade20k_dataset(ade_sample.parent if parent else ade_sample, "validation", progress=False)
    assert len(ds) == 3 and ds.num_classes == 150 and ds.reduce_zero_label
    assert [p[0].name for p in ds.pairs] == [f"ADE_val_0000000{i}.jpg" for i in (1, 2, 3)]
    for i, (img_path, mask_path) in enumerate(ds.pairs):
        assert mask_path == ade_sample / "annotations" / "validation" / img_path.with_suffix(".png").name
        raw = read_mask(mask_path).astype(np.int64)
        assert (raw == 0).any() and raw.max() > 1
        expected = np.where(raw == 0, 255, raw - 1)
        item = ds[i]
        assert item["index"] == i
        assert item["mask"].dtype == torch.int64
        np.testing.assert_array_equal(item["mask"].numpy(), expected)
        np.testing.assert_array_equal(item["image"], read_image(img_path))
        assert item["image"].shape[:2] == raw.shape


def test_ade20k_real_sample_without_reduce(ade_sample):
    ds = ade20k_dataset(ade_sample, "validation", reduce_zero_label=False, validate=False)
    raw = read_mask(ds.pairs[2][1])
    np.testing.assert_array_equal(ds[2]["mask"].numpy(), raw)


def _ade_tree(root: Path, split="training", n=3, hw=(20, 24)) -> list[np.ndarray]:
    masks = []
    for i in range(1, n + 1):
        _image(root / "ADEChallengeData2016" / "images" / split / f"ADE_train_{i:08d}.jpg", hw, seed=i)
        lab = _labels(hw, (0, 1, 2, 150), seed=i)
        masks.append(_mask(root / "ADEChallengeData2016" / "annotations" / split / f"ADE_train_{i:08d}.png", lab))
    return masks


def test_ade20k_synthetic_training_split(tmp_path):
    masks = _ade_tree(tmp_path)
    for root in (tmp_path, tmp_path / "ADEChallengeData2016"):
        ds = ade20k_dataset(root, progress=False)  # split "training" by default
        assert len(ds) == 3
        for i, raw in enumerate(masks):
            got = ds[i]["mask"].numpy()
            np.testing.assert_array_equal(got, np.where(raw == 0, 255, raw - 1))
            assert set(np.unique(got)) <= {0, 1, 149, 255}


def test_ade20k_missing_split_and_bad_split(tmp_path):
    _ade_tree(tmp_path)
    with pytest.raises(DataError, match="directory not found") as e:
        ade20k_dataset(tmp_path, "validation")
    assert "validation" in str(e.value)
    with pytest.raises(ValueError, match="test"):
        ade20k_dataset(tmp_path, "test")


def test_ade20k_value_above_150_reports_raw_value(tmp_path):
    _ade_tree(tmp_path)
    bad = tmp_path / "ADEChallengeData2016" / "annotations" / "training" / "ADE_train_00000002.png"
    lab = _labels((20, 24), (0, 1, 2), seed=5)
    lab[3, 3] = 151
    _mask(bad, lab)
    with _raises_naming(bad, "151"):
        ade20k_dataset(tmp_path, progress=False)


# --------------------------------------------------------------------------------------------------------------
# folder / VOC / Cityscapes layouts
# --------------------------------------------------------------------------------------------------------------


def test_folder_dataset_nested_and_custom_suffixes(tmp_path):
    imgs, anns = tmp_path / "images", tmp_path / "labels"
    stems = ["a/b/x", "a/x", "c/y", "z"]  # the same file name in two folders must not be confused
    expected = {}
    for k, stem in enumerate(stems):
        _image(imgs / f"{stem}.png", (8, 10), seed=k)
        expected[stem] = _mask(anns / f"{stem}_mask.png", np.full((8, 10), k, np.int32))
    (imgs / "a" / ".hidden.png").write_bytes(b"not an image")  # hidden files are skipped
    ds = folder_dataset(imgs, anns, FOUR, img_suffix=".png", ann_suffix="_mask.png", progress=False)
    assert len(ds) == 4
    got_stems = [str(p[0].relative_to(imgs))[: -len(".png")] for p in ds.pairs]
    assert got_stems == sorted(stems)
    for i, (img_path, mask_path) in enumerate(ds.pairs):
        stem = got_stems[i]
        assert mask_path == anns / f"{stem}_mask.png"
        assert ds[i]["mask"].unique().tolist() == [stems.index(stem)]


def test_pair_files_matches_both_ways(tmp_path):
    imgs, anns = _folder(tmp_path, n=3)
    pairs = pair_files(imgs, anns)
    assert [(i.name, m.name) for i, m in pairs] == [("s0.jpg", "s0.png"), ("s1.jpg", "s1.png"), ("s2.jpg", "s2.png")]


def _voc_tree(root: Path) -> dict[str, np.ndarray]:
    voc = root / "VOCdevkit" / "VOC2012"
    palette = voc_classes().flat_palette()
    masks = {}
    for k, stem in enumerate(["2007_000032", "2007_000039", "2008_000001"]):
        _image(voc / "JPEGImages" / f"{stem}.jpg", (14, 18), seed=k)
        lab = np.zeros((14, 18), np.int32)
        lab[3:11, 4:14] = (1, 15, 20)[k]
        lab[3, 4:14] = lab[10, 4:14] = lab[3:11, 4] = lab[3:11, 13] = 255  # object border
        masks[stem] = _mask(voc / "SegmentationClass" / f"{stem}.png", lab, palette=palette)
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("2007_000032\n2008_000001\n\n")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000039\n")
    return masks


def test_voc_layout(tmp_path):
    masks = _voc_tree(tmp_path)
    mask_file = tmp_path / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2007_000032.png"
    assert Image.open(mask_file).mode == "P"
    for root in (tmp_path, tmp_path / "VOCdevkit", tmp_path / "VOCdevkit" / "VOC2012"):
        ds = voc_dataset(root, "train", progress=False)
        assert len(ds) == 2 and ds.num_classes == 21 and not ds.reduce_zero_label
        assert [p[0].stem for p in ds.pairs] == ["2007_000032", "2008_000001"]  # the list, not the folder
        for i, stem in enumerate(["2007_000032", "2008_000001"]):
            got = ds[i]["mask"].numpy()
            np.testing.assert_array_equal(got, masks[stem])  # palette indices, 255 kept as ignore
        assert set(np.unique(ds[1]["mask"].numpy())) == {0, 20, 255}
    assert len(voc_dataset(tmp_path, "val", progress=False)) == 1


def test_voc_list_naming_missing_file(tmp_path):
    _voc_tree(tmp_path)
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    list_file = voc / "ImageSets" / "Segmentation" / "train.txt"
    list_file.write_text("2007_000032\n2009_999999\n")
    with _raises_naming(voc / "JPEGImages" / "2009_999999.jpg", str(list_file)):
        voc_dataset(tmp_path, "train")
    (voc / "SegmentationClass" / "2007_000039.png").unlink()
    with _raises_naming(voc / "SegmentationClass" / "2007_000039.png", "missing"):
        voc_dataset(tmp_path, "val")
    with pytest.raises(DataError, match="trainval"):
        voc_dataset(tmp_path, "trainval")


def test_voc_value_21_is_not_a_class(tmp_path):
    _voc_tree(tmp_path)
    bad = tmp_path / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2008_000001.png"
    _mask(bad, np.full((14, 18), 21), palette=voc_classes().flat_palette())
    with _raises_naming(bad, "21"):
        voc_dataset(tmp_path, "train", progress=False)


def test_cityscapes_layout(tmp_path):
    expected = {}
    for k, (city, name) in enumerate([("aachen", "aachen_000000_000019"), ("bochum", "bochum_000000_000313")]):
        _image(tmp_path / "leftImg8bit" / "train" / city / f"{name}_leftImg8bit.png", (10, 20), seed=k)
        gt = tmp_path / "gtFine" / "train" / city
        lab = _labels((10, 20), (0, 13, 18, 255), seed=k)
        expected[name] = _mask(gt / f"{name}_gtFine_labelTrainIds.png", lab)
        _mask(gt / f"{name}_gtFine_labelIds.png", np.full((10, 20), 33))  # other gtFine files: not masks here
        Image.new("RGB", (20, 10)).save(gt / f"{name}_gtFine_color.png")
    ds = cityscapes_dataset(tmp_path, "train", progress=False)
    assert len(ds) == 2 and ds.num_classes == 19 and ds.classes == cityscapes_classes()
    for i, name in enumerate(["aachen_000000_000019", "bochum_000000_000313"]):
        assert ds.pairs[i][1].name == f"{name}_gtFine_labelTrainIds.png"
        np.testing.assert_array_equal(ds[i]["mask"].numpy(), expected[name])


# --------------------------------------------------------------------------------------------------------------
# Up-front validation
# --------------------------------------------------------------------------------------------------------------


def test_image_without_mask(tmp_path):
    imgs, anns = _folder(tmp_path)
    _image(imgs / "lonely.jpg")
    with _raises_naming(imgs / "lonely.jpg", "no mask", str(anns / "lonely.png")):
        folder_dataset(imgs, anns, FOUR)


def test_mask_without_image(tmp_path):
    imgs, anns = _folder(tmp_path)
    _mask(anns / "orphan.png", np.zeros((12, 16)))
    with _raises_naming(anns / "orphan.png", "without an image"):
        folder_dataset(imgs, anns, FOUR)


def test_mask_size_differs_from_image(tmp_path):
    imgs, anns = _folder(tmp_path)
    _mask(anns / "s1.png", np.zeros((16, 12)))  # transposed size
    with _raises_naming(anns / "s1.png", "12x16", "16x12"):
        folder_dataset(imgs, anns, FOUR, progress=False)


def test_label_outside_classes(tmp_path):
    imgs, anns = _folder(tmp_path)
    lab = _labels(seed=1)
    lab[0, 0] = 7
    _mask(anns / "s1.png", lab)
    with _raises_naming(anns / "s1.png", "7", "0..3"):
        folder_dataset(imgs, anns, FOUR, progress=False)


def test_label_outside_classes_reduce_zero_label_reports_raw_value(tmp_path):
    imgs, anns = _folder(tmp_path, values=(0, 1, 4))  # raw 4 -> 3: fine with 4 classes
    folder_dataset(imgs, anns, FOUR, reduce_zero_label=True, progress=False)
    lab = _labels(values=(0, 1, 4), seed=1)
    lab[5, 5] = 6  # raw 6 -> 5: not a class; the message must speak of the file's value, 6
    _mask(anns / "s1.png", lab)
    with pytest.raises(DataError) as e:
        folder_dataset(imgs, anns, FOUR, reduce_zero_label=True, progress=False)
    msg = str(e.value)
    assert str(anns / "s1.png") in msg
    assert re.search(r"values 6\b", msg), msg
    assert "1..4" in msg or "0..4" in msg, msg


def test_16bit_label_above_255_is_not_wrapped_into_a_class(tmp_path):
    """260 is not one of 10 classes: it must not be accepted as 260 % 256 == 4."""
    imgs, anns = _folder(tmp_path)
    lab = _labels(seed=1)
    lab[2, 2] = 260
    _mask(anns / "s1.png", lab)
    assert read_mask(anns / "s1.png")[2, 2] == 260
    ten = ClassInfo(tuple("abcdefghij"), tuple((i, i, i) for i in range(10)))
    with _raises_naming(anns / "s1.png", "260"):
        folder_dataset(imgs, anns, ten, progress=False)


def test_ignore_index_values_are_accepted(tmp_path):
    imgs, anns = _folder(tmp_path, values=(0, 3, 255))
    ds = folder_dataset(imgs, anns, FOUR, progress=False)
    assert 255 in ds[0]["mask"].unique().tolist()
    # another ignore index: 255 becomes an invalid value, 9 the accepted one
    imgs2, anns2 = _folder(tmp_path / "other", values=(0, 3, 9))
    folder_dataset(imgs2, anns2, FOUR, ignore_index=9, progress=False)
    with pytest.raises(DataError, match="255"):
        folder_dataset(imgs, anns, FOUR, ignore_index=9, progress=False)


def test_corrupt_image(tmp_path):
    imgs, anns = _folder(tmp_path)
    (imgs / "s1.jpg").write_bytes(b"\x00garbage" * 50)
    with _raises_naming(imgs / "s1.jpg", "corrupt"):
        folder_dataset(imgs, anns, FOUR, progress=False)


def test_corrupt_mask(tmp_path):
    imgs, anns = _folder(tmp_path, hw=(64, 64))
    data = (anns / "s0.png").read_bytes()
    (anns / "s0.png").write_bytes(data[: len(data) // 2])  # truncated: the header is intact
    with _raises_naming(anns / "s0.png", "corrupt"):
        folder_dataset(imgs, anns, FOUR, progress=False)


def test_missing_listed_file_caught_before_use(tmp_path):
    imgs, anns = _folder(tmp_path)
    ds = folder_dataset(imgs, anns, FOUR, progress=False)
    ds.pairs[1][0].unlink()
    with _raises_naming(imgs / "s1.jpg", "not found"):
        ds.validate(progress=False)


def test_empty_and_missing_directories(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "ann").mkdir()
    with _raises_naming(tmp_path / "img", "no *.jpg images"):
        folder_dataset(tmp_path / "img", tmp_path / "ann", FOUR)
    with _raises_naming(tmp_path / "nowhere", "directory not found"):
        folder_dataset(tmp_path / "nowhere", tmp_path / "ann", FOUR)
    with pytest.raises(DataError, match="no images"):
        SegmentationDataset([], FOUR, name="empty")


def test_first_problem_in_file_order_is_reported(tmp_path):
    imgs, anns = _folder(tmp_path, n=6)
    for k in (2, 4):
        lab = _labels(seed=k)
        lab[0, 0] = 5
        _mask(anns / f"s{k}.png", lab)
    with pytest.raises(DataError) as e:
        folder_dataset(imgs, anns, FOUR, progress=False)
    assert str(anns / "s2.png") in str(e.value) and "s4.png" not in str(e.value)


def test_validate_false_skips_checks(tmp_path):
    imgs, anns = _folder(tmp_path)
    lab = _labels(seed=1)
    lab[0, 0] = 7
    _mask(anns / "s1.png", lab)
    ds = folder_dataset(imgs, anns, FOUR, validate=False)
    assert ds[1]["mask"][0, 0].item() == 7


def _exif_jpeg(path: Path, stored_hw=(20, 40)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(np.full((*stored_hw, 3), 90, np.uint8)).save(path, exif=exif)


def test_exif_rotated_image_with_mask_in_displayed_orientation_is_valid(tmp_path):
    """read_image applies the EXIF orientation, so the mask that lines up with what the dataset returns is the
    rotated (40 x 20) one; validation must compare against the same orientation."""
    imgs, anns = tmp_path / "img", tmp_path / "ann"
    _exif_jpeg(imgs / "r.jpg")
    assert read_image(imgs / "r.jpg").shape == (40, 20, 3)
    _mask(anns / "r.png", np.ones((40, 20)))
    ds = folder_dataset(imgs, anns, FOUR, progress=False)
    item = ds[0]
    assert item["image"].shape[:2] == tuple(item["mask"].shape) == (40, 20)


def test_exif_rotated_image_with_mask_in_stored_orientation_is_rejected(tmp_path):
    """A mask in the stored (20 x 40) orientation would come back misaligned with the rotated image."""
    imgs, anns = tmp_path / "img", tmp_path / "ann"
    _exif_jpeg(imgs / "r.jpg")
    _mask(anns / "r.png", np.ones((20, 40)))
    with _raises_naming(anns / "r.png"):
        folder_dataset(imgs, anns, FOUR, progress=False)


# --------------------------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------------------------


def test_item_without_transform(tmp_path):
    imgs, anns = _folder(tmp_path)
    ds = folder_dataset(imgs, anns, FOUR, progress=False)
    item = ds[1]
    assert item["index"] == 1
    np.testing.assert_array_equal(item["image"], read_image(imgs / "s1.jpg"))
    assert item["image"].dtype == np.uint8 and item["image"].shape == (12, 16, 3)
    assert item["mask"].dtype == torch.int64
    np.testing.assert_array_equal(item["mask"].numpy(), read_mask(anns / "s1.png"))


def test_seeded_items_with_train_transform(tmp_path):
    imgs, anns = _folder(tmp_path, n=2, hw=(48, 64))

    def make():
        return folder_dataset(imgs, anns, FOUR, transform=train_transform((32, 32), (128, 32), (0.5, 2.0)), progress=False)

    ds, other = make(), make()
    a = ds[(1, 7)]
    assert a["index"] == 1
    assert a["image"].dtype == torch.float32 and a["image"].shape == (3, 32, 32)
    assert a["mask"].dtype == torch.int64 and a["mask"].shape == (32, 32)
    assert set(a["mask"].unique().tolist()) <= {0, 1, 2, 3, 255}
    ds[(0, 3)]  # other calls in between must not matter
    ds[1]
    b = ds[(1, 7)]
    c = other[(1, 7)]  # another instance, same seed: same sample
    for x in (b, c):
        assert torch.equal(a["image"], x["image"]) and torch.equal(a["mask"], x["mask"])
    outs = [ds[(1, s)] for s in range(8, 14)]
    differing = sum(not torch.equal(a["image"], o["image"]) for o in outs)
    assert differing == len(outs)
    assert len({o["image"].sum().item() for o in outs}) == len(outs)


def test_eval_item_keeps_original_mask(tmp_path):
    imgs, anns = _folder(tmp_path, n=1, hw=(40, 60))
    ds = folder_dataset(imgs, anns, FOUR, transform=eval_transform((2048, 512)), transform_mask=False, progress=False)
    item = ds[(0, 5)]
    assert item["image"].shape == (3, 512, 768)
    np.testing.assert_array_equal(item["mask"].numpy(), read_mask(anns / "s0.png"))


# --------------------------------------------------------------------------------------------------------------
# Real data smoke test
# --------------------------------------------------------------------------------------------------------------


def test_real_dev_folder_smoke():
    if not (REAL_DEV / "images").is_dir():
        pytest.skip(f"{REAL_DEV} not present")
    ds = folder_dataset(
        REAL_DEV / "images",
        REAL_DEV / "annotations",
        ade20k_classes(),
        reduce_zero_label=True,
        transform=train_transform(),
        progress=False,
    )
    assert len(ds) == 7
    manifest = REAL_DEV / "manifest.json"
    ids = {e["name"]: e.get("ade_ids_present") for e in json.loads(manifest.read_text())} if manifest.is_file() else {}
    for i, (img_path, _) in enumerate(ds.pairs):
        raw_labels = ds.load_mask(i)
        present = sorted(set(np.unique(raw_labels).tolist()) - {255})
        assert present and max(present) < 150
        if ids.get(img_path.stem) is not None:
            assert present == sorted(v - 1 for v in ids[img_path.stem])
        out = ds[(i, 1000 + i)]
        assert out["image"].shape == (3, 512, 512) and out["mask"].shape == (512, 512)
        assert set(out["mask"].unique().tolist()) <= set(present) | {255}
        assert torch.isfinite(out["image"]).all()


# --------------------------------------------------------------------------------------------------------------
# build_dataset
# --------------------------------------------------------------------------------------------------------------


def test_build_dataset_folder_train_and_val(tmp_path):
    tr_i, tr_a = _folder(tmp_path / "train", n=2, hw=(40, 60))
    va_i, va_a = _folder(tmp_path / "val", n=1, hw=(40, 60))
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps({"classes": ["a", "b", "c", "d"]}))
    cfg = DataConfig(
        dataset="folder",
        train_images=str(tr_i),
        train_masks=str(tr_a),
        val_images=str(va_i),
        val_masks=str(va_a),
        classes=str(classes),
        crop_size=[32, 32],
        scale=[128, 32],
    )
    assert cfg.crop_size == (32, 32) and cfg.scale == (128, 32)
    train = build_dataset(cfg, train=True, progress=False)
    assert len(train) == 2 and train.num_classes == 4 and not train.reduce_zero_label
    t = train[(0, 1)]
    assert t["image"].shape == (3, 32, 32) and t["mask"].shape == (32, 32)

    val = build_dataset(DataConfig(**{**cfg.__dict__, "scale": (2048, 512)}), train=False, progress=False)
    assert len(val) == 1 and val.transform_mask is False
    v = val[0]
    h, w = rescale_size((40, 60), (2048, 512))
    assert (h, w) == (512, 768)
    assert v["image"].shape == (3, h, w)
    assert v["mask"].shape == (40, 60)
    np.testing.assert_array_equal(v["mask"].numpy(), read_mask(va_a / "s0.png"))


def test_build_dataset_folder_needs_paths_and_reduce_override(tmp_path):
    imgs, anns = _folder(tmp_path, values=(1, 2, 4))
    classes = tmp_path / "c.txt"
    classes.write_text("a\nb\nc\nd\n")
    with pytest.raises(ValueError, match="val_images"):
        build_dataset(DataConfig(dataset="folder", classes=str(classes)), train=False)
    cfg = DataConfig(
        dataset="folder", train_images=str(imgs), train_masks=str(anns), classes=str(classes), reduce_zero_label=True
    )
    ds = build_dataset(cfg, train=True, progress=False)
    assert ds.reduce_zero_label
    np.testing.assert_array_equal(ds.load_mask(0), read_mask(anns / "s0.png") - 1)
    with pytest.raises(ValueError, match="unknown dataset"):
        DataConfig(dataset="coco")
