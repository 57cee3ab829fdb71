"""``collect_inputs``: files, folders and glob patterns -> (image, output stem) pairs, and the names' rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from swinseg.predict import collect_inputs

# ----------------------------------------------------------------------------------------------------------


def test_collect_inputs_files_folders_globs_and_output_names(tmp_path, monkeypatch):
    for name in ["day1/a.jpg", "day1/sub/b.PNG", "day1/.c.jpg", "day1/.cache/d.jpg", "day1/notes.txt",
                 "day2/a.jpg", "day2/a.png", "day2/e.webp", "loose/x.tif", "loose/out/old.png"]:  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    monkeypatch.chdir(tmp_path)

    pairs = collect_inputs(["day1"])
    assert pairs == [(Path("day1/a.jpg"), Path("a")), (Path("day1/sub/b.PNG"), Path("sub/b"))]  # hidden left out

    # two folders: names relative to their common folder, so day1/a and day2/a stay apart; a.jpg + a.png in one
    # folder keep their suffix; duplicates (day1 given twice, day1/a.jpg as well) counted once; sorted
    pairs = collect_inputs(["day2", "day1", "day1/a.jpg", "./day1"])
    assert [s.as_posix() for _, s in pairs] == ["day1/a", "day1/sub/b", "day2/a_jpg", "day2/a_png", "day2/e"]
    assert pairs[2][0] == Path("day2/a.jpg")

    # a pattern's base is its folder part before the first wildcard; a matched folder is searched
    assert [s.as_posix() for _, s in collect_inputs(["day*/a.*"])] == ["day1/a", "day2/a_jpg", "day2/a_png"]
    assert [s.as_posix() for _, s in collect_inputs(["**/*.tif"])] == ["loose/x"]
    assert [s.as_posix() for _, s in collect_inputs(["loose/*"], exclude="loose/out")] == ["x"]
    assert [s.as_posix() for _, s in collect_inputs(["loose"], exclude="loose/out")] == ["x"]
    assert collect_inputs(["day1/notes.txt"]) == [(Path("day1/notes.txt"), Path("notes"))]  # a file is a file

    with pytest.raises(ValueError, match=r"^nowhere/a\.jpg: no such file or directory$"):
        collect_inputs(["day1", "nowhere/a.jpg"])
    with pytest.raises(ValueError, match=r"^day1/\*\.gif: no images match this pattern$"):
        collect_inputs(["day1/*.gif"])
    with pytest.raises(ValueError, match=r"^loose/out: no images in this folder"):
        collect_inputs(["loose/out"], exclude="loose/out")


