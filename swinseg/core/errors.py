"""Error messages of one line: what the CLI prints and what a skipped file or measurement reports."""

from __future__ import annotations

__all__ = ["NoticeWarning", "first_line"]


def first_line(error: BaseException, strip_prefix: str | None = None) -> str:
    """The first line of ``str(error)`` (the exception's type name when it has no message); ``strip_prefix``
    (e.g. ``"photos/a.jpg: "``) is taken off the front, for messages that name the file again."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    if strip_prefix and line.startswith(strip_prefix):
        return line[len(strip_prefix) :]
    return line


class NoticeWarning(UserWarning):
    """A warning meant for the person running a command (a label convention the data seems to contradict, ...):
    the command line prints it as one line, ``swinseg score: warning: ...``."""
