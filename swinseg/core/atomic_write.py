"""Writing files so that readers never see half of one, with the permissions any new file gets, and with an
error that names the file when the system refuses the write.

Both writers put the data in a temporary file beside the target and rename it over the target only when it is
complete, so a failed or interrupted write leaves the previous file as it was and no partial file behind:

- :func:`atomic_write` hands the writer the temporary file's path (for libraries that want a file name);
- :func:`atomic_write_stream` hands it an open binary file, so that an operating-system error inside a library
  that reports it vaguely (``torch.save`` says "unexpected pos 576 vs 534" for a full disk) is still reported
  as what it is.

The temporary file is created private (``mkstemp``: mode 0600) and given ``0666 & ~umask`` before the rename,
the mode ``open()`` would have given it: 0644 under the usual umask 022. Any ``OSError`` (no space left,
permission denied, read-only file system, name too long) becomes a :class:`WriteError` naming the target.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["WriteError", "atomic_write", "atomic_write_stream", "current_umask"]


class WriteError(OSError):
    """A file could not be written: ``str()`` is one line, ``<path>: cannot write: <reason>``."""

    def __init__(self, path: Path, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: cannot write: {self.strerror}"


def current_umask() -> int:
    """The process umask, read without changing it where Linux tells it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but only for an instant)
    os.umask(mask)
    return mask


_write_bytes = io.FileIO.write  # the system call behind _RecordingFile.write (a test stands a full disk in)


class _RecordingFile(io.FileIO):
    """A file that remembers the first ``OSError`` its writes raised, for libraries that re-raise it as
    something else."""

    error: OSError | None = None

    def write(self, data) -> int:  # noqa: ANN001 - any bytes-like object
        """All of ``data``: a raw write may take only part of it (a disk filling up), so write the rest until
        the system takes it all or refuses with an error."""
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                done += _write_bytes(self, view[done:]) or 0
        except OSError as e:
            self.error = self.error or e
            raise
        return done


def _replace_atomically(path: Path, overwrite: bool, fill: Callable[[str], object]) -> Path:
    """The shared body: a temporary file beside ``path``, ``fill(tmp)``, the umask's mode, the rename; the
    temporary file never outlives the call."""
    try:
        exists = path.exists()
    except OSError as e:  # e.g. a name too long
        raise WriteError(path, e) from e
    if exists and not overwrite:
        raise FileExistsError(f"{path}: exists already (pass overwrite to replace it)")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        fill(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
        tmp = None
    except WriteError:
        raise
    except OSError as e:
        raise WriteError(path, e) from e
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[str], object], overwrite: bool = False) -> Path:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path`` (module docstring)."""
    return _replace_atomically(Path(path), overwrite, write)


def atomic_write_stream(path: str | os.PathLike, write: Callable[[BinaryIO], object], overwrite: bool = False) -> Path:
    """Call ``write(file)`` with the temporary file open for binary writing, then rename it onto ``path``. An
    ``OSError`` a write raised is reported as such even when ``write`` turned it into another exception."""

    def fill(tmp: str) -> None:
        with _RecordingFile(tmp, "w") as f:
            try:
                write(f)
            except Exception as e:
                if f.error is not None and not isinstance(e, OSError):
                    raise f.error from e  # what really happened, not the library's rewording of it
                raise

    return _replace_atomically(Path(path), overwrite, fill)
