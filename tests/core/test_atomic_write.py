"""atomic_write: readers see the old file or the new one, never half of one; nothing is overwritten unasked; new
files get the umask's mode; a refused write is one line naming the file."""

import errno
import os
import stat
from pathlib import Path

import pytest
import torch

from swinseg.checkpoints.training_state import save_training_state
from swinseg.core import atomic_write as atomic_write_module
from swinseg.core.atomic_write import WriteError, atomic_write, atomic_write_stream, current_umask
from tests.conftest import mounted_tmpfs


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


# ----------------------------------------------------------------------------------------------------------
# permissions and operating-system errors
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def umask():
    """Set the process umask for one test, then restore it."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_new_files_get_the_umasks_mode(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    a = atomic_write(tmp_path / "a.txt", lambda tmp: Path(tmp).write_text("a"))
    b = atomic_write_stream(tmp_path / "b.bin", lambda f: f.write(b"b"))
    plain = tmp_path / "plain.txt"
    plain.write_text("what open() gives")
    for path in (a, b):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask == stat.S_IMODE(plain.stat().st_mode), path


def test_a_full_file_system_is_one_line_and_keeps_the_previous_file(tmp_path):
    with mounted_tmpfs(tmp_path / "small", "size=256k") as small:
        target = small / "state.pt"
        save_training_state(target, {"w": torch.zeros(8)})
        before = target.read_bytes()
        with pytest.raises(WriteError) as err:
            save_training_state(target, {"w": torch.zeros(200_000)})  # 800 kB onto 256 kB
        assert str(err.value) == f"{target}: cannot write: No space left on device"
        assert err.value.errno == errno.ENOSPC
        assert target.read_bytes() == before and [p.name for p in small.iterdir()] == ["state.pt"]


def test_a_read_only_file_system_is_one_line(tmp_path):
    with mounted_tmpfs(tmp_path / "ro", "size=64k,ro") as ro:
        with pytest.raises(WriteError, match=r"ro/out.txt: cannot write: Read-only file system$"):
            atomic_write(ro / "out.txt", lambda tmp: Path(tmp).write_text("x"))


def test_enospc_inside_a_library_is_reported_as_enospc(tmp_path, monkeypatch):
    """torch.save turns a failed write into "RuntimeError: unexpected pos ..."; the stream writer reports the
    OSError the file saw (a mock of a full disk: the first write that is not tiny fails)."""
    target = tmp_path / "state.pt"
    save_training_state(target, {"w": torch.zeros(4)})
    before = target.read_bytes()
    real_write = atomic_write_module._write_bytes

    def full_disk(file, data):
        if len(data) > 1000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(file, data)

    monkeypatch.setattr(atomic_write_module, "_write_bytes", full_disk)
    with pytest.raises(WriteError, match=r"state.pt: cannot write: No space left on device$"):
        save_training_state(target, {"w": torch.zeros(100_000)})
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_a_name_too_long_is_one_line(tmp_path):
    with pytest.raises(WriteError, match="cannot write: File name too long$"):
        atomic_write(tmp_path / ("x" * 300 + ".png"), lambda tmp: Path(tmp).write_text("x"))
