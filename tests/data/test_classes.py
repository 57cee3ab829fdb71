"""Class names / palettes of ADE20K, VOC and Cityscapes, and user classes files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from swinseg.data.classes import (
    ClassInfo,
    ade20k_classes,
    ade20k_stuff_flags,
    cityscapes_classes,
    load_classes_file,
    voc_classes,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_ade20k_facts():
    c = ade20k_classes()
    assert len(c) == 150 and len(c.names) == 150 and len(c.palette) == 150
    assert c.names[0] == "wall" and c.names[149] == "flag"
    assert c.names[1] == "building" and c.names[2] == "sky" and c.names[12] == "person"
    assert c.names[6] == "road" and c.names[48] == "skyscraper"
    assert c.palette[0] == (120, 120, 120)
    assert c.palette[6] == c.palette[48] == (140, 140, 140)  # ADE's palette really repeats this colour
    assert all(len(rgb) == 3 and all(0 <= v <= 255 for v in rgb) for rgb in c.palette)
    assert len(ade20k_stuff_flags()) == 150
    assert ade20k_stuff_flags()[0] is True  # wall is stuff
    assert ade20k_stuff_flags()[12] is False  # person is a thing


def test_ade20k_matches_shared_reference():
    ref_path = SHARED / "ade20k_classes.json"
    if not ref_path.is_file():
        pytest.skip(f"{ref_path} not present")
    ref = json.loads(ref_path.read_text())
    c = ade20k_classes()
    assert list(c.names) == list(ref["classes"])
    assert [list(rgb) for rgb in c.palette] == [list(rgb) for rgb in ref["palette"]]
    if "is_stuff" in ref:
        assert list(ade20k_stuff_flags()) == [bool(s) for s in ref["is_stuff"]]


def test_flat_palette():
    flat = ade20k_classes().flat_palette()
    assert len(flat) == 768
    assert flat[:6] == [120, 120, 120, 180, 120, 120]
    assert flat[450:] == [0] * (768 - 450)  # 150 * 3 used entries, the rest black


def test_voc_classes():
    c = voc_classes()
    assert len(c) == 21
    assert c.names[0] == "background" and c.names[15] == "person" and c.names[20] == "tvmonitor"
    assert c.palette[:5] == ((0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128))
    assert c.palette[15] == (192, 128, 128)  # person
    assert c.palette[20] == (0, 64, 128)
    assert len(set(c.palette)) == 21


def test_cityscapes_classes():
    c = cityscapes_classes()
    assert len(c) == 19
    assert c.names[0] == "road" and c.palette[0] == (128, 64, 128)
    assert c.names[18] == "bicycle" and c.palette[18] == (119, 11, 32)
    assert c.names[13] == "car" and c.palette[13] == (0, 0, 142)


def test_class_info_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        ClassInfo(("a", "b"), ((0, 0, 0),))


def test_load_classes_json_with_palette(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"classes": ["bg", "cat", "dog"], "palette": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}))
    c = load_classes_file(p)
    assert c.names == ("bg", "cat", "dog")
    assert c.palette == ((1, 2, 3), (4, 5, 6), (7, 8, 9))


def test_load_classes_json_without_palette_gets_voc_colours(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"classes": ["a", "b", "c", "d"]}))
    c = load_classes_file(p)
    assert c.names == ("a", "b", "c", "d")
    assert c.palette == voc_classes().palette[:4]


def test_load_classes_txt(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("background\n  road \n\nperson\n")
    c = load_classes_file(p)
    assert c.names == ("background", "road", "person")
    assert c.palette == ((0, 0, 0), (128, 0, 0), (0, 128, 0))


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("bad.json", '{"classes": ["a", "b"', "JSON"),
        ("len.json", json.dumps({"classes": ["a", "b"], "palette": [[0, 0, 0]]}), "palette"),
        ("rgb.json", json.dumps({"classes": ["a"], "palette": [[0, 0]]}), "palette"),
        ("range.json", json.dumps({"classes": ["a"], "palette": [[0, 0, 256]]}), "palette"),
        ("list.json", json.dumps(["a", "b"]), "classes"),
        ("empty.txt", "\n\n", "no class names"),
    ],
)
def test_load_classes_errors_name_the_file(tmp_path, name, text, words):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ValueError, match=re.escape(words)) as e:
        load_classes_file(p)
    assert str(p) in str(e.value)


def test_load_classes_missing_file(tmp_path):
    p = tmp_path / "absent.json"
    with pytest.raises(ValueError) as e:
        load_classes_file(p)
    assert str(p) in str(e.value)
