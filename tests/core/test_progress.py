"""progress: tqdm bars on a terminal, whole plain lines (never ``\\r``) elsewhere, at 10 % steps and intervals."""

from __future__ import annotations

import io

import pytest
from tqdm import tqdm

from swinseg.core import progress as progress_module
from swinseg.core.progress import LineProgress, progress, progress_mode, progress_write


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self, start: float = 100.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines_of(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert "\r" not in text and (not text or text.endswith("\n"))
    return text.splitlines()


def make(total=None, *, clock=None, interval=30.0, **kwargs) -> tuple[LineProgress, io.StringIO, FakeClock]:
    stream, clock = io.StringIO(), clock or FakeClock()
    return LineProgress(total=total, interval=interval, clock=clock, stream=stream, **kwargs), stream, clock


@pytest.fixture(autouse=True)
def _auto_mode(monkeypatch):
    monkeypatch.delenv("SWINSEG_PROGRESS", raising=False)
    monkeypatch.delenv("SWINSEG_PROGRESS_INTERVAL", raising=False)


def test_a_known_total_gives_a_line_at_every_tenth_and_none_more_on_close():
    bar, stream, clock = make(100, desc="train")
    for _ in range(100):
        clock.now += 0.25
        bar.update()
    bar.close()
    lines = lines_of(stream)
    assert len(lines) == 10
    assert lines[0] == "train: 10/100 (10 %) 4.0 it/s, 0:02 elapsed, 0:22 left"
    assert lines[-1] == "train: 100/100 (100 %) 4.0 it/s, 0:25 elapsed, 0:00 left"


def test_the_interval_adds_lines_between_tenths_and_close_adds_the_last_state():
    bar, stream, clock = make(800, desc="train", interval=5.0)
    for _ in range(125):  # 4 it/s: a line every 5 s (20 steps), the first tenth at 80 (on a 5 s mark too)
        clock.now += 0.25
        bar.set_postfix(loss=0.53, lr=2.1e-3)
        bar.update()
    bar.close()
    lines = lines_of(stream)
    assert [line.split()[1] for line in lines] == ["20/800", "40/800", "60/800", "80/800", "100/800", "120/800",
                                                   "125/800"]  # fmt: skip
    assert lines[5] == "train: 120/800 (15 %) 4.0 it/s, 0:30 elapsed, 2:50 left, loss=0.53, lr=0.0021"
    assert lines[6] == "train: 125/800 (15 %) 4.0 it/s, 0:31 elapsed, 2:49 left, loss=0.53, lr=0.0021"


def test_postfix_and_description_show_on_the_next_lines():
    bar, stream, clock = make(10, desc="train")
    clock.now += 2
    bar.set_postfix(loss="0.5300", lr="2.10e-03", refresh=False)
    bar.update(1)
    bar.set_postfix({"loss": 0.25, "step": 3})
    bar.set_description("fine-tune")
    clock.now += 2
    bar.update(1)
    bar.set_postfix_str("impl swinseg 512x512")
    bar.update(1)  # within a second of the last line: quiet
    clock.now += 2
    bar.update(1)
    assert lines_of(stream) == [
        "train: 1/10 (10 %) 2.0 s/it, 0:02 elapsed, 0:18 left, loss=0.5300, lr=2.10e-03",
        "fine-tune: 2/10 (20 %) 2.0 s/it, 0:04 elapsed, 0:16 left, loss=0.25, step=3",
        "fine-tune: 4/10 (40 %) 1.5 s/it, 0:06 elapsed, 0:09 left, impl swinseg 512x512",
    ]


def test_slow_steps_read_as_seconds_per_unit():
    bar, stream, clock = make(10, desc="train")
    clock.now += 2.5
    bar.update()
    assert lines_of(stream) == ["train: 1/10 (10 %) 2.5 s/it, 0:02 elapsed, 0:22 left"]


def test_an_unknown_total_writes_on_the_interval_and_on_close():
    bar, stream, clock = make(desc="evaluate", unit="img", interval=30.0)
    for _ in range(150):
        clock.now += 0.25
        bar.update()
    bar.close()
    assert bar.total is None and bar.n == 150
    assert lines_of(stream) == [
        "evaluate: 120 img, 4.0 img/s, 0:30 elapsed",
        "evaluate: 150 img, 4.0 img/s, 0:38 elapsed",
    ]


def test_nothing_done_writes_nothing_and_close_is_idempotent():
    bar, stream, _ = make(10)
    bar.close()
    bar.close()
    bar.update()  # after close: counted, not written
    assert stream.getvalue() == "" and bar.n == 1


def test_disable_writes_nothing():
    bar, stream, clock = make(10, disable=True)
    for _ in range(10):
        clock.now += 100
        bar.update()
    bar.close()
    assert stream.getvalue() == ""


def test_iterating_yields_every_item_counts_them_and_closes():
    stream, clock = io.StringIO(), FakeClock()
    items = ["a", "b", "c"]
    bar = LineProgress(items, desc="scoring", unit="img", clock=clock, stream=stream)
    seen = []
    for item in bar:
        clock.now += 1
        seen.append(item)
    assert seen == items and bar.total == 3 and bar.n == 3 and bar.closed
    assert lines_of(stream) == [
        "scoring: 1/3 (33 %) 1.0 img/s, 0:01 elapsed, 0:02 left",
        "scoring: 2/3 (66 %) 1.0 img/s, 0:02 elapsed, 0:01 left",
        "scoring: 3/3 (100 %) 1.0 img/s, 0:03 elapsed, 0:00 left",
    ]


def test_iterating_a_generator_without_total():
    bar, stream, _ = make()
    bar.iterable = (i * i for i in range(5))
    assert list(bar) == [0, 1, 4, 9, 16] and bar.n == 5 and bar.total is None
    assert lines_of(stream) == ["5 it, 0:00 elapsed"]


def test_with_closes_even_on_an_error_and_initial_counts_from_a_resume():
    stream, clock = io.StringIO(), FakeClock()
    with pytest.raises(RuntimeError):
        with LineProgress(total=100, initial=35, desc="train", clock=clock, stream=stream) as bar:
            clock.now += 10
            bar.update(3)  # 38 %: no new tenth since 35 %
            assert stream.getvalue() == ""
            raise RuntimeError("stop")
    assert bar.closed and lines_of(stream) == ["train: 38/100 (38 %) 3.3 s/it, 0:10 elapsed, 3:27 left"]


def test_progress_off_a_terminal_gives_lines_with_tqdm_keywords():
    stream = io.StringIO()
    bar = progress(total=5, initial=2, desc="predict", unit="img", disable=False, leave=False, position=None,
                   dynamic_ncols=True, file=stream, mininterval=1.0)  # fmt: skip
    assert isinstance(bar, LineProgress) and bar.n == 2 and bar.total == 5
    bar.update(3)
    bar.close()
    assert lines_of(stream)[-1].startswith("predict: 5/5 (100 %)")


def test_progress_on_a_terminal_gives_a_tqdm_bar(monkeypatch):
    tty = Tty()
    monkeypatch.setattr(progress_module.sys, "stderr", tty)
    with progress(range(3), desc="evaluate", leave=False) as bar:
        assert isinstance(bar, tqdm)
        assert list(bar) == [0, 1, 2]
    assert "\r" in tty.getvalue()


def test_the_environment_forces_a_mode(monkeypatch):
    tty, plain = Tty(), io.StringIO()
    monkeypatch.setenv("SWINSEG_PROGRESS", "lines")
    assert progress_mode(tty) == "lines" and isinstance(progress(total=1, file=tty), LineProgress)
    monkeypatch.setenv("SWINSEG_PROGRESS", "bars")
    bar = progress(total=1, file=plain, disable=True)
    assert progress_mode(plain) == "bars" and isinstance(bar, tqdm)
    bar.close()
    monkeypatch.setenv("SWINSEG_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="SWINSEG_PROGRESS='fancy'"):
        progress_mode(plain)


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SWINSEG_PROGRESS_INTERVAL", "5")
    assert LineProgress(total=1).interval == 5.0
    monkeypatch.setenv("SWINSEG_PROGRESS_INTERVAL", "soon")
    with pytest.raises(ValueError, match="SWINSEG_PROGRESS_INTERVAL='soon'"):
        LineProgress(total=1)
    monkeypatch.delenv("SWINSEG_PROGRESS_INTERVAL")
    assert LineProgress(total=1).interval == 30.0


def test_write_prints_whole_lines_in_both_modes():
    stream = io.StringIO()
    progress_write("a.jpg: unreadable", file=stream)
    LineProgress.write("b.jpg: unreadable", file=stream)
    make(1)[0].write("c.jpg: unreadable", file=stream)
    assert lines_of(stream) == ["a.jpg: unreadable", "b.jpg: unreadable", "c.jpg: unreadable"]
