"""A long job's progress, where the user can see it: a rich bar with an ETA on a
terminal, otherwise (piped, in a log, under CI) one plain line every ``every_s`` seconds.

Both go to stderr, so a job's real output on stdout (tables, JSON) stays clean. The
caller says how far it got (``update(done)``), in its own unit: simulated seconds for
runs and backtests, runs for sweeps and evaluations, trials for optimisations,
simulated seconds for chaos. A finished item's own line (``note``) prints above the bar,
so a job's log and its bar do not tear each other.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO


def _hms(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class JobProgress:
    def __init__(self, label: str, total: float | None, *, unit: str = "s", stream: TextIO | None = None,
                 every_s: float = 10.0, clock: Callable[[], float] = time.monotonic, tty: bool | None = None) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.clock = clock
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = clock()
        self._next_line = self.t0 + every_s
        self._bar: Any = None
        self._task: Any = None
        self.done = 0.0
        self._shown = 0.0  # the `done` of the last plain line

    def __enter__(self) -> "JobProgress":
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TimeRemainingColumn(), console=Console(file=self.stream, force_terminal=True),
                                 transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.done != self._shown and exc[0] is None:  # the plain log ends on where the job ended
            print(self.line(self.clock()), file=self.stream, flush=True)

    def update(self, done: float, label: str | None = None) -> None:
        """How far the job got, and a new label if it says more now (cheap: call it as
        often as you like)."""
        self.done = done
        if label is not None:
            self.label = label
        if self._bar is not None:
            self._bar.update(self._task, completed=done, description=self.label)
            return
        now = self.clock()
        if now < self._next_line:
            return
        self._next_line = now + self.every_s
        self._shown = done
        print(self.line(now), file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """One line of the job's own (a finished run, a trial): above the bar on a
        terminal, as it is otherwise."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def line(self, now: float) -> str:
        """'backtest: 120/600 s (20%), 0:00:10 elapsed, ETA 0:00:40'."""
        elapsed = now - self.t0
        if not self.total:
            return f"{self.label}: {self.done:,.0f} {self.unit}, {_hms(elapsed)} elapsed"
        frac = min(1.0, max(0.0, self.done / self.total))
        eta = f"ETA {_hms(elapsed * (1 - frac) / frac)}" if frac > 0 else "ETA -"
        return (f"{self.label}: {self.done:,.0f}/{self.total:,.0f} {self.unit} ({frac:.0%}), "
                f"{_hms(elapsed)} elapsed, {eta}")
