"""Stopping long work cleanly when the scheduler asks: SLURM, Kubernetes and spot instances send SIGTERM (or a
chosen signal, e.g. SIGUSR1 with ``sbatch --signal``) some time before they kill a job; Ctrl-C sends SIGINT.

:class:`StopSignals` catches those signals while a run is in progress. The first one only sets a flag: the
work finishes the unit in progress (an optimizer step, an image), saves what lets it continue, and raises
:class:`Stopped`, which the CLI turns into one line and the exit status ``128 + signal number`` (143 for
SIGTERM, 130 for SIGINT, 138 for SIGUSR1: what a shell reports for a process killed by that signal, so a
scheduler's requeue rules keep working). A second signal exits at once, without writing anything more.

Under torchrun a signal may reach one rank only: :meth:`StopSignals.agreed` takes the flag through the process
group (a max over ranks), so that every rank stops after the same step.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from functools import partial
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_STOP_SIGNALS", "StopSignals", "Stopped", "ignore_signals", "signal_number"]

DEFAULT_STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR1")


def signal_number(name: str) -> int:
    """``"SIGTERM"`` (or ``"TERM"``) -> 15; a ``ValueError`` naming the choices for anything else."""
    key = name.upper() if name.upper().startswith("SIG") else f"SIG{name.upper()}"
    try:
        return int(signal.Signals[key])
    except KeyError:
        raise ValueError(f"unknown signal {name!r}; e.g. SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP") from None


class Stopped(Exception):
    """Work stopped by a signal after saving what it needs to continue; ``str()`` is the line to print."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class StopSignals:
    """A context manager: while inside, the first of ``signals`` sets :attr:`received`, a second one exits the
    process at once (status 128 + its number). Handlers can only be installed from the main thread; elsewhere
    the signals keep their usual behaviour."""

    def __init__(self, signals: Sequence[str] = DEFAULT_STOP_SIGNALS):
        self.numbers = [signal_number(s) for s in signals]
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            os._exit(128 + signum)  # the second signal: now, without touching any file
        self.received = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in self.numbers:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, tb: TracebackType | None) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def agreed(self, enabled: bool, device: torch.device) -> int | None:
        """The signal any rank received (``enabled``: a process group is running), else this process's own."""
        if not enabled:
            return self.received
        import torch  # only under a process group: the CLI imports this module before it needs torch

        flag = torch.tensor([self.received or 0], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item()) or None

    @staticmethod
    def name(signum: int) -> str:
        return signal.Signals(signum).name

    def worker_init(self) -> Callable[[int], None]:
        """A DataLoader ``worker_init_fn`` that makes workers ignore these signals (SLURM sends them to every
        process of a job): stopping is the main process's decision, and the workers serve it until then."""
        return partial(ignore_signals, self.numbers)


def ignore_signals(numbers: Sequence[int], worker_id: int = 0) -> None:
    """Ignore ``numbers`` in this process (a DataLoader worker: ``worker_id`` is the loader's argument)."""
    for number in numbers:
        signal.signal(number, signal.SIG_IGN)
