"""atomic_write: readers see the old file or the new one, never half of one; nothing is overwritten unasked."""

import pytest

from swinseg.core.atomic_write import atomic_write


def test_write_replace_and_refuse(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    atomic_write(path, lambda tmp: open(tmp, "w").write("one"))
    assert path.read_text() == "one"
    with pytest.raises(FileExistsError, match="out.txt: exists already"):
        atomic_write(path, lambda tmp: open(tmp, "w").write("two"))
    atomic_write(path, lambda tmp: open(tmp, "w").write("two"), overwrite=True)
    assert path.read_text() == "two" and sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def half(tmp):
        open(tmp, "w").write("ha")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half, overwrite=True)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
