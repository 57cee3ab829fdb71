"""mmsegmentation's ADE20K pipelines in albumentations: rescale rule, random rescale, cat-max-ratio crop,
photometric distortion, normalisation / padding, and per-step seeding."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from swinseg.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CatMaxRatioCrop,
    PhotoMetricDistortion,
    RandomRescale,
    eval_transform,
    rescale_size,
    seed_transform,
    train_transform,
)

# --------------------------------------------------------------------------------------------------------------
# rescale_size / RandomRescale
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, scale, expected",
    [
        ((480, 640), (2048, 512), (512, 683)),  # short edge binds: 512 / 480
        ((640, 480), (2048, 512), (683, 512)),
        ((100, 1000), (2048, 512), (205, 2048)),  # long edge binds: 2048 / 1000 (204.8 -> 205)
        ((1000, 100), (2048, 512), (2048, 205)),
        ((512, 512), (2048, 512), (512, 512)),
        ((10, 20), (2048, 512), (512, 1024)),  # upscaling
        ((3, 7), (10, 5), (4, 10)),  # factor 10/7: 3 * 1.4286 = 4.29 -> 4
        ((512, 683), (512, 2048), (512, 683)),  # (short, long) order of scale does not matter
    ],
)
def test_rescale_size_mmcv_rule(size, scale, expected):
    assert rescale_size(size, scale) == expected


def test_rescale_size_rounds_half_up():
    # mmcv's _scale_size: int(x * factor + 0.5)
    assert rescale_size((1024, 1366), (1024, 256)) == (256, 342)  # 1366 * 0.25 = 341.5 -> 342


def test_random_rescale_ratio_range_on_square_input():
    img = np.zeros((40, 40, 3), np.uint8)
    t = RandomRescale((2048, 512), (0.5, 2.0))
    ratios = []
    for seed in range(150):
        t.set_random_seed(seed)
        h, w = t(image=img)["image"].shape[:2]
        assert h == w
        ratios.append(h / 512)
    ratios = np.array(ratios)
    assert ratios.min() >= 0.5 - 1e-9 and ratios.max() <= 2.0 + 1e-9
    assert ratios.min() < 0.6 and ratios.max() > 1.9
    assert 1.05 < np.median(ratios) < 1.45  # uniform on [0.5, 2]: median 1.25
    assert len(np.unique(ratios)) > 100  # a continuous ratio, not a few fixed scales


def test_random_rescale_mmseg_target_and_interpolation():
    """mmseg RandomResize: target = (int(2048 r), int(512 r)), then mmcv's keep-ratio rescale; image bilinear,
    mask nearest."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    mask = rng.choice(np.array([0, 3, 7, 255], np.uint8), size=(30, 50))
    t = RandomRescale((2048, 512), (0.5, 2.0))
    for seed in range(10):
        t.set_random_seed(seed)
        ratio = 0.5 + t.py_random.random() * 1.5  # the draw the transform will make
        t.set_random_seed(seed)
        out = t(image=img, mask=mask)
        target = (int(2048 * ratio), int(512 * ratio))
        h, w = rescale_size((30, 50), target)
        assert out["image"].shape == (h, w, 3) and out["mask"].shape == (h, w)
        np.testing.assert_array_equal(out["image"], cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR))
        np.testing.assert_array_equal(out["mask"], cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST))
        assert set(np.unique(out["mask"])) <= {0, 3, 7, 255}


def test_random_rescale_keeps_aspect_ratio():
    img = np.zeros((300, 400, 3), np.uint8)
    t = RandomRescale((2048, 512), (0.5, 2.0))
    for seed in range(20):
        t.set_random_seed(seed)
        h, w = t(image=img)["image"].shape[:2]
        assert abs(w / h - 4 / 3) < 0.01


# --------------------------------------------------------------------------------------------------------------
# CatMaxRatioCrop
# --------------------------------------------------------------------------------------------------------------


def _max_share(mask: np.ndarray, ignore: int = 255) -> float:
    labels, counts = np.unique(mask, return_counts=True)
    counts = counts[labels != ignore]
    return counts.max() / counts.sum()


def _dominated_mask() -> np.ndarray:
    m = np.zeros((64, 64), np.uint8)  # class 0 covers ~86 %
    m[36:60, 36:48] = 1
    m[36:60, 48:60] = 2
    return m


@pytest.mark.parametrize("cat_max_ratio, lo, hi", [(0.75, 0.8, 1.0), (1.0, 0.0, 0.5)])
def test_cat_max_ratio_crop_avoids_dominated_crops(cat_max_ratio, lo, hi):
    mask = _dominated_mask()
    img = np.zeros((64, 64, 3), np.uint8)
    t = CatMaxRatioCrop((32, 32), cat_max_ratio)
    shares = []
    for seed in range(100):
        t.set_random_seed(seed)
        out = t(image=img, mask=mask)
        assert out["image"].shape == (32, 32, 3) and out["mask"].shape == (32, 32)
        shares.append(_max_share(out["mask"]))
    good = np.mean(np.array(shares) < 0.75)
    assert lo <= good <= hi, good


def test_cat_max_ratio_crop_image_and_mask_cut_at_the_same_place():
    mask = _dominated_mask()
    yy, xx = np.mgrid[:64, :64]
    img = np.stack([yy, xx, np.zeros_like(xx)], -1).astype(np.uint8)
    t = CatMaxRatioCrop((32, 32), 0.75)
    for seed in range(10):
        t.set_random_seed(seed)
        out = t(image=img, mask=mask)
        y1, x1 = int(out["image"][0, 0, 0]), int(out["image"][0, 0, 1])
        np.testing.assert_array_equal(out["mask"], mask[y1 : y1 + 32, x1 : x1 + 32])
        assert 0 <= y1 <= 32 and 0 <= x1 <= 32


def test_cat_max_ratio_crop_ignores_ignore_pixels():
    """Left half: 81 % ignore, the rest split evenly between classes 1 and 2; right half: class 0 only.

    A crop starting at column x1 is acceptable (ignore not counted) for x1 <= 11; were ignore counted as a class,
    the acceptable crops would be x1 in 3..23 instead."""
    mask = np.zeros((32, 64), np.uint8)
    mask[:26, :32] = 255
    mask[26:29, :32] = 1
    mask[29:, :32] = 2
    img = np.tile(np.arange(64, dtype=np.uint8)[None, :, None], (32, 1, 3))  # pixel value = column
    t = CatMaxRatioCrop((32, 32), 0.75, ignore_index=255)
    xs = []
    for seed in range(150):
        t.set_random_seed(seed)
        xs.append(int(t(image=img, mask=mask)["image"][0, 0, 0]))
    xs = np.array(xs)
    assert np.mean(xs <= 11) > 0.95
    assert np.sum(xs <= 2) >= 10  # crops that are 76-81 % ignore are accepted


def test_cat_max_ratio_crop_smaller_image():
    t = CatMaxRatioCrop((32, 32), 0.75)
    for shape, expected in [((20, 50), (20, 32)), ((50, 10), (32, 10)), ((10, 12), (10, 12))]:
        img = np.zeros((*shape, 3), np.uint8)
        mask = np.zeros(shape, np.uint8)
        t.set_random_seed(0)
        out = t(image=img, mask=mask)
        assert out["image"].shape[:2] == expected and out["mask"].shape == expected


# --------------------------------------------------------------------------------------------------------------
# PhotoMetricDistortion
# --------------------------------------------------------------------------------------------------------------


def _convert(img, alpha=1.0, beta=0.0):
    """mmseg's PhotoMetricDistortion.convert."""
    return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def _mmseg_reference(img, brightness, contrast_first, contrast, saturation, hue):
    """mmseg 1.x PhotoMetricDistortion.transform with its random draws fixed (RGB in, as HSV is the same)."""
    if brightness is not None:
        img = _convert(img, beta=brightness)
    if contrast_first and contrast is not None:
        img = _convert(img, alpha=contrast)
    if saturation is not None:  # mmseg: bgr2hsv, scale S, hsv2bgr
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 1] = _convert(hsv[..., 1], alpha=saturation)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if hue is not None:  # mmseg: a second, separate bgr2hsv / hsv2bgr round trip
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + hue) % 180
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if not contrast_first and contrast is not None:
        img = _convert(img, alpha=contrast)
    return img


def _params(brightness=None, contrast_first=True, contrast=None, saturation=None, hue=None):
    return dict(brightness=brightness, contrast_first=contrast_first, contrast=contrast, saturation=saturation, hue=hue)


@pytest.fixture
def colourful():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    img[0, :3] = [(250, 250, 250), (3, 3, 3), (0, 0, 0)]  # pixels that clip
    return img


def test_photometric_brightness_adds_clips_floors(colourful):
    t = PhotoMetricDistortion()
    out = t.apply(colourful.copy(), **_params(brightness=10))
    np.testing.assert_array_equal(out, np.clip(colourful.astype(int) + 10, 0, 255).astype(np.uint8))
    assert tuple(out[0, 0]) == (255, 255, 255)
    out = t.apply(colourful.copy(), **_params(brightness=-5.7))
    np.testing.assert_array_equal(out, np.floor(np.clip(colourful - 5.7, 0, 255)).astype(np.uint8))
    assert tuple(out[0, 1]) == (0, 0, 0)
    assert out.dtype == np.uint8


@pytest.mark.parametrize(
    "params",
    [
        _params(brightness=10),
        _params(contrast=1.3),
        _params(contrast=0.6, contrast_first=False),
        _params(saturation=1.4),
        _params(saturation=0.5),
        _params(hue=7),
        _params(hue=-18),
        _params(brightness=-20.5, contrast=1.2, contrast_first=True, saturation=0.8),
        _params(brightness=12.0, contrast=0.7, contrast_first=False, hue=11),
    ],
)
def test_photometric_matches_mmseg_reference(colourful, params):
    out = PhotoMetricDistortion().apply(colourful.copy(), **params)
    np.testing.assert_array_equal(out, _mmseg_reference(colourful.copy(), **params))


@pytest.mark.parametrize(
    "params",
    [
        _params(saturation=1.3, hue=-12),
        _params(brightness=-20.5, contrast=1.2, contrast_first=False, saturation=1.3, hue=-12),
        _params(saturation=0.7, hue=5),
    ],
)
def test_photometric_saturation_then_hue_are_separate_hsv_round_trips(colourful, params):
    """mmseg converts to HSV and back for saturation, then again for hue; one shared round trip rounds
    differently (up to 3 levels on this image)."""
    out = PhotoMetricDistortion().apply(colourful.copy(), **params)
    np.testing.assert_array_equal(out, _mmseg_reference(colourful.copy(), **params))


def test_photometric_contrast_order_matters(colourful):
    t = PhotoMetricDistortion()
    first = t.apply(colourful.copy(), **_params(contrast=1.4, contrast_first=True, brightness=30))
    last = t.apply(colourful.copy(), **_params(contrast=1.4, contrast_first=False, brightness=30))
    # brightness always comes before contrast, so with only these two steps the order flag changes nothing...
    np.testing.assert_array_equal(first, last)
    first = t.apply(colourful.copy(), **_params(contrast=1.4, contrast_first=True, hue=9))
    last = t.apply(colourful.copy(), **_params(contrast=1.4, contrast_first=False, hue=9))
    # ...but around the colour steps it does
    assert not np.array_equal(first, last)
    np.testing.assert_array_equal(first, _mmseg_reference(colourful.copy(), None, True, 1.4, None, 9))
    np.testing.assert_array_equal(last, _mmseg_reference(colourful.copy(), None, False, 1.4, None, 9))


def test_photometric_all_none_is_identity(colourful):
    for first in (True, False):
        out = PhotoMetricDistortion().apply(colourful.copy(), **_params(contrast_first=first))
        np.testing.assert_array_equal(out, colourful)


def test_photometric_param_ranges():
    t = PhotoMetricDistortion()
    draws = []
    for seed in range(400):
        t.set_random_seed(seed)
        draws.append(t.get_params())
    for key, lo, hi in [("brightness", -32, 32), ("contrast", 0.5, 1.5), ("saturation", 0.5, 1.5), ("hue", -18, 18)]:
        vals = [d[key] for d in draws if d[key] is not None]
        assert 0.4 < len(vals) / len(draws) < 0.6, key  # each step with probability 0.5
        assert lo <= min(vals) and max(vals) <= hi, key
        assert min(vals) < lo + 0.2 * (hi - lo) and max(vals) > hi - 0.2 * (hi - lo), key
    assert all(isinstance(d["hue"], int) for d in draws if d["hue"] is not None)
    assert 0.4 < np.mean([d["contrast_first"] for d in draws]) < 0.6


# --------------------------------------------------------------------------------------------------------------
# train_transform / eval_transform
# --------------------------------------------------------------------------------------------------------------


def test_train_transform_pads_bottom_right_with_zero_and_ignore():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    mask = rng.integers(0, 4, (20, 30), dtype=np.uint8)
    pipe = train_transform(crop_size=(64, 64), scale=(64, 32), ratio_range=(1.0, 1.0))
    h, w = rescale_size((20, 30), (64, 32))
    assert (h, w) == (32, 48)
    expected_mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    flips = 0
    for seed in range(8):
        seed_transform(pipe, seed)
        out = pipe(image=img, mask=mask)
        image, m = out["image"], out["mask"]
        assert isinstance(image, torch.Tensor) and image.dtype == torch.float32 and image.shape == (3, 64, 64)
        assert m.shape == (64, 64)
        assert torch.all(image[:, h:, :] == 0) and torch.all(image[:, :, w:] == 0)
        assert torch.all(m[h:, :] == 255) and torch.all(m[:, w:] == 255)
        data = m[:h, :w].numpy()
        assert (data != 255).all()  # the data sits top-left
        if np.array_equal(data, expected_mask[:, ::-1]) and not np.array_equal(data, expected_mask):
            flips += 1
        else:
            np.testing.assert_array_equal(data, expected_mask)
        assert (image[:, :h, :w] != 0).float().mean() > 0.95  # normalised data, not padding
    assert 0 < flips < 8


def test_eval_transform_normalises_constant_image():
    rgb = (100, 150, 200)
    img = np.empty((10, 20, 3), np.uint8)
    img[:] = rgb
    out = eval_transform((2048, 512))(image=img)["image"]
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.shape == (3, 512, 1024)  # rescale_size((10, 20), (2048, 512))
    for c in range(3):
        expected = (rgb[c] - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        assert torch.allclose(out[c], torch.full_like(out[c], expected), atol=1e-5), c
    assert IMAGENET_MEAN == (123.675, 116.28, 103.53) and IMAGENET_STD == (58.395, 57.12, 57.375)


def test_eval_transform_is_resize_then_normalise():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    out = eval_transform((64, 32))(image=img)["image"].numpy()
    h, w = rescale_size((30, 40), (64, 32))
    assert (h, w) == (32, 43)
    ref = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    ref = (ref - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    np.testing.assert_allclose(out, ref.transpose(2, 0, 1), atol=1e-5)


def test_eval_transform_is_deterministic():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    pipe = eval_transform((64, 32))
    a = pipe(image=img)["image"]
    seed_transform(pipe, 123)
    b = pipe(image=img)["image"]
    assert torch.equal(a, b)


# --------------------------------------------------------------------------------------------------------------
# seed_transform
# --------------------------------------------------------------------------------------------------------------


def test_seed_transform_reproducible_and_children_independent():
    """The flip decision and the photometric brightness coin must not be the same coin."""
    img = np.zeros((16, 16, 3), np.uint8)
    mask = np.zeros((16, 16), np.uint8)
    mask[:, 8:] = 1  # left 0, right 1: a flip shows in mask[0, 0]
    pipe = train_transform(crop_size=(16, 16), scale=(16, 16), ratio_range=(1.0, 1.0))
    pmd = next(t for t in pipe.transforms if isinstance(t, PhotoMetricDistortion))
    seen = {}
    original_get_params = pmd.get_params

    def spy():
        seen.clear()
        seen.update(original_get_params())
        return dict(seen)

    pmd.get_params = spy  # records the photometric decisions the pipeline draws
    flips, bright = [], []
    for seed in range(50):
        seed_transform(pipe, seed)
        out = pipe(image=img, mask=mask)
        flips.append(bool(out["mask"][0, 0] == 1))
        bright.append(seen["brightness"] is not None)
        # reproducible
        seed_transform(pipe, seed)
        again = pipe(image=img, mask=mask)
        assert torch.equal(out["image"], again["image"]) and torch.equal(out["mask"], again["mask"])
    assert 10 < sum(flips) < 40 and 10 < sum(bright) < 40
    assert flips != bright
    assert sum(f != b for f, b in zip(flips, bright)) >= 10  # independent coins disagree about half the time


def test_seed_transform_gives_each_step_its_own_generator():
    pipe = train_transform()
    seed_transform(pipe, 7)
    firsts = [t.py_random.random() for t in pipe.transforms]
    assert len(set(firsts)) == len(firsts)
    seed_transform(pipe, 7)
    assert [t.py_random.random() for t in pipe.transforms] == firsts
    seed_transform(pipe, 8)
    assert [t.py_random.random() for t in pipe.transforms] != firsts


def test_seed_transform_makes_output_a_function_of_the_seed():
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    mask = rng.integers(0, 5, (40, 60), dtype=np.uint8)
    p1 = train_transform(crop_size=(32, 32), scale=(128, 32), ratio_range=(0.5, 2.0))
    p2 = train_transform(crop_size=(32, 32), scale=(128, 32), ratio_range=(0.5, 2.0))
    p2(image=img, mask=mask)  # advance p2's generators: the seed must reset everything
    seed_transform(p1, 99)
    seed_transform(p2, 99)
    a, b = p1(image=img, mask=mask), p2(image=img, mask=mask)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    assert isinstance(p1, A.Compose)
