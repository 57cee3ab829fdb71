"""Progress reports that suit where stderr goes: tqdm bars on a terminal, plain lines in a log file.

A tqdm bar redraws itself with ``\\r`` many times a second; in a SLURM log or a CI job that becomes thousands of
fragments. :func:`progress` is called as ``tqdm`` is and returns a real ``tqdm.tqdm`` when the stream is a
terminal, else a :class:`LineProgress` that writes one whole line every ``SWINSEG_PROGRESS_INTERVAL`` seconds
(30 by default) and at every further 10 % of a known total, e.g.::

    train: 120/800 (15 %) 4.1 it/s, 0:29 elapsed, 2:45 left, loss=0.5300, lr=2.10e-03

``SWINSEG_PROGRESS=bars`` or ``lines`` forces one kind whatever the stream. :func:`progress_write` prints a
message without breaking a bar (``tqdm.write``).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, Literal, Union

from tqdm import tqdm

__all__ = ["LineProgress", "Progress", "progress", "progress_mode", "progress_write"]

MODE_ENV = "SWINSEG_PROGRESS"
INTERVAL_ENV = "SWINSEG_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 30.0
STEPS = 10  # a line at every further 1/STEPS of a known total ...
MIN_GAP = 1.0  # ... but not within a second of the previous line: quick loops of few items stay quiet


def progress(iterable: Iterable | None = None, *, total: float | None = None, desc: str | None = None,
             unit: str = "it", disable: bool = False, leave: bool = True, position: int | None = None,
             dynamic_ncols: bool = True, **kwargs: Any) -> Progress:  # fmt: skip
    """A tqdm bar on a terminal, a :class:`LineProgress` elsewhere (see :func:`progress_mode`); called as ``tqdm``.

    Other tqdm keywords (``initial``, ``file``, ...) pass through to tqdm; of those :class:`LineProgress` reads
    ``initial`` and ``file`` and ignores the rest. ``disable`` shows nothing either way.
    """
    stream = kwargs.get("file")
    if progress_mode(stream) == "bars":
        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=leave, position=position,
                    dynamic_ncols=dynamic_ncols, **kwargs)  # fmt: skip
    return LineProgress(iterable, total=total, desc=desc, unit=unit, disable=disable,
                        initial=kwargs.get("initial", 0), stream=stream)  # fmt: skip


def progress_mode(stream: IO[str] | None = None) -> Literal["bars", "lines"]:
    """``SWINSEG_PROGRESS`` when set to ``bars`` or ``lines``, else bars when ``stream`` (default: stderr) is a
    terminal and lines when it is not."""
    forced = os.environ.get(MODE_ENV, "").strip().lower()
    if forced in ("bars", "lines"):
        return forced  # type: ignore[return-value]
    if forced not in ("", "auto"):
        raise ValueError(f"{MODE_ENV}={forced!r}: expected bars, lines or auto")
    return "bars" if _isatty(sys.stderr if stream is None else stream) else "lines"


def progress_write(msg: str, file: IO[str] | None = None, end: str = "\n") -> None:
    """Print ``msg`` to ``file`` (default: stdout, as ``tqdm.write``) without breaking any bar on the screen."""
    tqdm.write(msg, file=file, end=end)
    (file or sys.stdout).flush()


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _interval_from_env() -> float:
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{INTERVAL_ENV}={text!r}: expected a positive number of seconds")
    return value


class LineProgress:
    """Progress as whole lines on a stream: at most one every ``interval`` seconds, plus one at every further
    10 % of a known total, plus one on :meth:`close` when something was done since the last line.

    Used as a tqdm bar is: iterate over it, or call :meth:`update`; ``set_postfix`` / ``set_description`` change
    what the next line shows. ``clock`` (seconds, default ``time.monotonic``) and ``stream`` (default: stderr at
    each write) are there for tests; ``interval`` defaults to ``SWINSEG_PROGRESS_INTERVAL`` or 30 s.
    """

    def __init__(self, iterable: Iterable | None = None, *, total: float | None = None, desc: str | None = None,
                 unit: str = "it", disable: bool = False, initial: float = 0, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic, stream: IO[str] | None = None) -> None:  # fmt: skip
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.disable, self.n, self.initial = disable, initial, initial
        self.interval = _interval_from_env() if interval is None else interval
        self.clock, self.stream = clock, stream
        self.postfix = ""
        self.start_t = self.last_t = clock()
        self.last_n = initial
        self.closed = False

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("LineProgress: nothing to iterate over (made without an iterable)")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total) if self.total is not None else len(self.iterable)  # type: ignore[arg-type]

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        """Count ``n`` more done; write a line when the interval has passed or a further 10 % is done."""
        self.n += n
        if self.disable or self.closed:
            return
        now = self.clock()
        gap = now - self.last_t
        if gap >= self.interval or (gap >= MIN_GAP and self._step(self.n) > self._step(self.last_n)):
            self._emit(now)

    def close(self) -> None:
        """Write the last line, when anything was done since the one before; later calls do nothing."""
        if self.closed:
            return
        self.closed = True
        if not self.disable and self.n != self.last_n:
            self._emit(self.clock())

    def set_postfix(self, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        """Show ``key=value`` pairs at the end of the next lines (numbers as tqdm shows them, strings as they are)."""
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{key}={_postfix_value(value)}" for key, value in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Show ``s`` as it is at the end of the next lines."""
        self.postfix = s

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        """The text in front of the next lines (``desc: 3/10 ...``)."""
        self.desc = desc

    set_description_str = set_description

    def refresh(self) -> None:
        """Nothing to redraw: lines are written when due (there for code written against tqdm)."""

    @staticmethod
    def write(s: str, file: IO[str] | None = None, end: str = "\n") -> None:
        """As ``tqdm.write``: see :func:`progress_write`."""
        progress_write(s, file=file, end=end)

    def line(self, now: float | None = None) -> str:
        """The line for the progress so far (without the newline)."""
        elapsed = (self.clock() if now is None else now) - self.start_t
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        parts = [self._count(rate)]
        if self.total is None and rate > 0:
            parts.append(_rate(rate, self.unit))
        parts.append(f"{_duration(elapsed)} elapsed")
        if self.total is not None and rate > 0 and self.n <= self.total:
            parts.append(f"{_duration((self.total - self.n) / rate)} left")
        if self.postfix:
            parts.append(self.postfix)
        return (f"{self.desc}: " if self.desc else "") + ", ".join(parts)

    def _count(self, rate: float) -> str:
        if self.total is None:
            return f"{_number(self.n)} {self.unit}"
        text = f"{_number(self.n)}/{_number(self.total)}"
        if self.total > 0:
            text += f" ({math.floor(100 * self.n / self.total)} %)"
        return text + (f" {_rate(rate, self.unit)}" if rate > 0 else "")

    def _step(self, n: float) -> int:
        """How many tenths of the total ``n`` is (0 without a total)."""
        return math.floor(STEPS * n / self.total) if self.total else 0

    def _emit(self, now: float) -> None:
        self.last_t, self.last_n = now, self.n
        stream = self.stream if self.stream is not None else sys.stderr
        if stream is None:  # no stderr at all (pythonw)
            return
        stream.write(self.line(now) + "\n")
        stream.flush()


Progress = Union[tqdm, LineProgress]


def _number(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else f"{n:.1f}"


def _rate(rate: float, unit: str) -> str:
    """``4.1 it/s``, ``250 it/s``, or ``2.5 s/it`` below one a second."""
    if rate < 1:
        return f"{1 / rate:.1f} s/{unit}"
    return f"{rate:.1f} {unit}/s" if rate < 100 else f"{rate:.0f} {unit}/s"


def _duration(seconds: float) -> str:
    """``0:29``, ``2:45``, ``1:02:03``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _postfix_value(value: Any) -> str:
    return tqdm.format_num(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
