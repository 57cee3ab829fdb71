"""Reading images / masks in every PIL mode, EXIF orientation, corrupt files, atomic label PNG writing."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from swinseg.data.io import (
    DataError,
    atomic_write,
    read_image,
    read_mask,
    write_label_png,
)

ORIENTATION = 0x0112


# --------------------------------------------------------------------------------------------------------------
# read_image
# --------------------------------------------------------------------------------------------------------------


def test_read_image_grayscale_l(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(a, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.dtype == np.uint8 and out.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], a)


def test_read_image_rgba_drops_alpha_keeps_colour(tmp_path):
    a = np.zeros((2, 3, 4), np.uint8)
    a[0, 0] = (10, 20, 30, 0)  # fully transparent: colour must survive (no premultiplication)
    a[1, 2] = (200, 100, 50, 128)
    a[0, 1] = (1, 2, 3, 255)
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out, a[..., :3])


def test_read_image_palette_looks_up_colours(tmp_path):
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    img = Image.fromarray(idx, "L").convert("P")
    img.putpalette([0, 0, 0, 255, 0, 0, 10, 200, 30] + [0] * (768 - 9))
    img.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], (0, 0, 0))
    np.testing.assert_array_equal(out[0, 1], (255, 0, 0))
    np.testing.assert_array_equal(out[1, 0], (10, 200, 30))
    np.testing.assert_array_equal(out[1, 1], (255, 0, 0))


def test_read_image_16bit_grayscale_scaled_to_8bit(tmp_path):
    k = np.array([[0, 1, 2, 3], [100, 127, 128, 200], [250, 253, 254, 255]], np.uint16)
    a = (k.astype(np.uint32) * 257).astype(np.uint16)  # 257 * 255 = 65535
    Image.fromarray(a).save(tmp_path / "w.png")
    assert Image.open(tmp_path / "w.png").mode.startswith("I")  # really a 16-bit file
    out = read_image(tmp_path / "w.png")
    assert out.dtype == np.uint8 and out.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], k.astype(np.uint8))
    assert out[2, 3, 0] == 255  # 65535 -> 255


def test_read_image_1bit(tmp_path):
    img = Image.new("1", (5, 3), 0)
    img.putpixel((4, 2), 1)
    img.putpixel((0, 1), 1)
    img.save(tmp_path / "b.png")
    out = read_image(tmp_path / "b.png")
    assert out.shape == (3, 5, 3) and out.dtype == np.uint8
    expected = np.zeros((3, 5), np.uint8)
    expected[2, 4] = expected[1, 0] = 255
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], expected)


def _marked_jpeg(path, orientation: int, w: int = 48, h: int = 24) -> None:
    """A grey w x h JPEG (as stored) with a red 8x8 block at its stored top-left corner."""
    a = np.full((h, w, 3), 128, np.uint8)
    a[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(a).save(path, quality=95, exif=exif)


def _is_red(px) -> bool:
    return px[0] > 200 and px[1] < 60 and px[2] < 60


@pytest.mark.parametrize(
    "orientation, corner",
    [
        (6, lambda out: out[2, -3]),  # rotate 90 clockwise: stored top-left -> top-right
        (8, lambda out: out[-3, 2]),  # rotate 90 counter-clockwise: stored top-left -> bottom-left
    ],
)
def test_read_image_applies_exif_orientation(tmp_path, orientation, corner):
    _marked_jpeg(tmp_path / "e.jpg", orientation)
    with Image.open(tmp_path / "e.jpg") as raw:
        assert raw.size == (48, 24)  # stored landscape
    out = read_image(tmp_path / "e.jpg")
    assert out.shape == (48, 24, 3)  # displayed portrait
    assert _is_red(corner(out)), corner(out)
    assert not _is_red(out[2, 2]) if orientation == 6 else not _is_red(out[2, -3])
    # the rest is grey
    assert abs(int(out[24, 12, 0]) - 128) < 10


def test_read_image_without_exif_is_untouched(tmp_path):
    a = np.full((24, 48, 3), 128, np.uint8)
    a[:8, :8] = (255, 0, 0)
    Image.fromarray(a).save(tmp_path / "n.jpg", quality=95)
    out = read_image(tmp_path / "n.jpg")
    assert out.shape == (24, 48, 3) and _is_red(out[2, 2])


# --------------------------------------------------------------------------------------------------------------
# read_mask
# --------------------------------------------------------------------------------------------------------------


def test_read_mask_palette_returns_indices_not_colours(tmp_path):
    idx = np.array([[0, 1, 2], [255, 1, 0]], np.uint8)
    img = Image.fromarray(idx, "L").convert("P")
    img.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (768 - 12) + [224, 224, 192])
    img.save(tmp_path / "m.png")
    assert Image.open(tmp_path / "m.png").mode == "P"
    out = read_mask(tmp_path / "m.png")
    assert out.shape == (2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, idx)


def test_read_mask_l(tmp_path):
    a = np.array([[0, 7, 149], [255, 3, 3]], np.uint8)
    Image.fromarray(a, "L").save(tmp_path / "m.png")
    out = read_mask(tmp_path / "m.png")
    np.testing.assert_array_equal(out, a)


def test_read_mask_16bit_keeps_values_above_255(tmp_path):
    a = np.array([[0, 255, 256], [300, 1000, 65535]], np.uint16)
    Image.fromarray(a).save(tmp_path / "m16.png")
    out = read_mask(tmp_path / "m16.png")
    assert out.shape == (2, 3)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, a.astype(np.int32))


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_read_mask_rejects_colour_mask(tmp_path, mode):
    path = tmp_path / f"colour_{mode}.png"
    Image.new(mode, (4, 3)).save(path)
    with pytest.raises(DataError) as e:
        read_mask(path)
    assert str(path) in str(e.value)
    assert mode in str(e.value)


def test_read_mask_applies_exif_orientation(tmp_path):
    a = np.zeros((2, 4), np.uint8)
    a[0, 0] = 5
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    Image.fromarray(a, "L").save(tmp_path / "m.png", exif=exif)
    out = read_mask(tmp_path / "m.png")
    assert out.shape == (4, 2)
    assert out[0, 1] == 5 and out.sum() == 5


# --------------------------------------------------------------------------------------------------------------
# corrupt / missing files
# --------------------------------------------------------------------------------------------------------------


def _truncated(src, dst, keep: float = 0.5) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("reader", [read_image, read_mask])
def test_truncated_file_raises_data_error_with_path(tmp_path, suffix, reader):
    rng = np.random.default_rng(0)
    good = tmp_path / f"good{suffix}"
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), "L").save(good)
    bad = tmp_path / f"cut{suffix}"
    _truncated(good, bad)
    with pytest.raises(DataError) as e:
        reader(bad)
    assert str(bad) in str(e.value)


@pytest.mark.parametrize("reader", [read_image, read_mask])
def test_garbage_file_raises_data_error_with_path(tmp_path, reader):
    bad = tmp_path / "garbage.png"
    bad.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(DataError) as e:
        reader(bad)
    assert str(bad) in str(e.value)


def test_missing_file_raises_data_error(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(DataError, match="not found") as e:
        read_image(path)
    assert str(path) in str(e.value)


# --------------------------------------------------------------------------------------------------------------
# write_label_png / atomic_write
# --------------------------------------------------------------------------------------------------------------


def test_write_label_png_round_trip_mode_l(tmp_path):
    labels = np.arange(256, dtype=np.int64).reshape(16, 16)
    out = write_label_png(tmp_path / "sub" / "l.png", labels)
    assert out == tmp_path / "sub" / "l.png"
    with Image.open(out) as img:
        assert img.mode == "L"
    np.testing.assert_array_equal(read_mask(out), labels)
    assert os.listdir(tmp_path / "sub") == ["l.png"]  # no temp file left behind


def test_write_label_png_palette_mode(tmp_path):
    labels = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (768 - 9)
    path = write_label_png(tmp_path / "p.png", labels, palette=palette)
    with Image.open(path) as img:
        assert img.mode == "P"
        assert img.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
        rgb = np.asarray(img.convert("RGB"))
    np.testing.assert_array_equal(rgb[0, 1], (128, 0, 0))
    np.testing.assert_array_equal(rgb[1, 0], (0, 128, 0))
    np.testing.assert_array_equal(read_mask(path), labels)  # indices back, not colours
    assert os.listdir(tmp_path) == ["p.png"]


def test_write_label_png_refuses_to_overwrite(tmp_path):
    path = tmp_path / "x.png"
    write_label_png(path, np.full((2, 2), 3, np.uint8))
    with pytest.raises(FileExistsError):
        write_label_png(path, np.full((2, 2), 9, np.uint8))
    np.testing.assert_array_equal(read_mask(path), np.full((2, 2), 3))  # untouched
    write_label_png(path, np.full((2, 2), 9, np.uint8), overwrite=True)
    np.testing.assert_array_equal(read_mask(path), np.full((2, 2), 9))
    assert os.listdir(tmp_path) == ["x.png"]


@pytest.mark.parametrize(
    "labels",
    [
        np.array([[0, 256]], np.int32),
        np.array([[0, -1]], np.int32),
        np.zeros((2, 2, 3), np.uint8),
    ],
)
def test_write_label_png_rejects_bad_labels(tmp_path, labels):
    path = tmp_path / "bad.png"
    with pytest.raises(DataError) as e:
        write_label_png(path, labels)
    assert str(path) in str(e.value)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_atomic_write_cleans_up_after_a_failing_writer(tmp_path):
    def boom(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "t.bin", boom)
    assert os.listdir(tmp_path) == []


def test_atomic_write_writes_via_temp_in_same_dir(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        with open(tmp, "wb") as f:
            f.write(b"data")

    path = atomic_write(tmp_path / "t.bin", write)
    assert path.read_bytes() == b"data"
    assert os.path.dirname(seen[0]) == str(tmp_path) and seen[0] != str(path)
    assert os.listdir(tmp_path) == ["t.bin"]
