"""Lockstep: the live hive run deterministically, as fast as it can go.

Normally the actors run on their own threads and the venue's clock runs on by itself,
so two runs of the same seed differ in the order messages happen to meet. In lockstep
(``Hive(..., lockstep=True)``, ``makerhive run --lockstep``) three things change:

- **One global order of messages.** Every message told to an actor, and every job an
  actor hands the venue thread (``VenueRuntime.submit``: commands, fire-and-forget
  requests), takes a ticket from one ``Turnstile``. Tickets are served strictly one at
  a time in the order they were issued, whichever thread runs them: first sent, first
  handled, across the whole hive. The actors still run on their own threads; they
  take turns.
- **Time stands still while anything is in flight.** ``LockstepClock`` is trio's clock.
  It moves only when the venue thread has nothing to run and no ticket is
  outstanding; then it jumps straight to the next timer. A simulated second costs only
  the work done in it.
- **The venue runs on a fixed grid** (``SimVenue`` in lockstep): engine steps, book
  pushes, the hive's ticker and each message's latency in integer nanoseconds, all of
  one instant back to back, as the backtester runs them.

The same scenario then gives the same fills, run after run, and the same fills as
the backtester gives (``tests/hive/test_lockstep.py``). A supervisor that waits for a child
to start or stop lends its turn (``lending``): nobody waits meanwhile, so a restart
works but is not deterministic; lockstep is for clean runs. ``release()`` switches
sequencing off for good, e.g. for the stop.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import Any, Callable, Iterator

import trio

_POLL_S = 0.05  # the venue thread re-checks this often while the hive works (it is woken sooner)


class Turnstile:
    """Tickets served strictly in issue order, one at a time, across threads.

    Until ``start_sequencing`` (the hive's start-up: supervisors wait on children that
    have not started yet) tickets only count what is in flight; from then on each
    waits for its turn; after ``release`` nothing waits any more."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._issued = 0
        self._serving = 0
        self._inflight = 0
        self._finished: set[int] = set()  # finished ahead of their turn (skipped)
        self._trio_jobs: dict[int, Callable[[], None]] = {}
        self._dispatch: Callable[[Callable[[], None]], None] | None = None
        self._on_idle: Callable[[], None] | None = None
        self.sequencing = False
        self.released = False
        self._lending = 0  # ticket holders waiting on another actor (a restart): nobody waits

    # -- wiring --------------------------------------------------------------------------
    def bind_trio(self, dispatch: Callable[[Callable[[], None]], None], on_idle: Callable[[], None]) -> None:
        """``dispatch(fn)`` runs ``fn`` on the venue thread soon (thread-safe);
        ``on_idle()`` wakes the venue thread when the last ticket is done."""
        self._dispatch, self._on_idle = dispatch, on_idle

    def start_sequencing(self) -> bool:
        """One order from now on; only when nothing is in flight (False: try again)."""
        with self._cv:
            if self._inflight:
                return False
            self._serving = self._issued
            self._finished.clear()
            self.sequencing = True
            return True

    def release(self) -> None:
        """Stop sequencing for good: every waiter runs, every held job is dispatched."""
        with self._cv:
            self.released = True
        self._let_everyone_go()

    def _let_everyone_go(self) -> None:
        """Nobody waits for a turn now: wake the waiters, dispatch the held jobs."""
        with self._cv:
            jobs = list(self._trio_jobs.values())
            self._trio_jobs.clear()
            self._cv.notify_all()
        for job in jobs:
            self._run_on_trio(job)

    def _waits(self) -> bool:
        return self.sequencing and not self.released and not self._lending

    @contextlib.contextmanager
    def lend(self) -> Iterator[None]:
        """The ticket holder blocks on another actor (a supervisor starting or stopping a
        child): until it is done, nothing waits for its turn. Restarts are not
        deterministic; they must not deadlock."""
        with self._cv:
            self._lending += 1
        self._let_everyone_go()
        try:
            yield
        finally:
            with self._cv:
                self._lending -= 1

    # -- tickets ---------------------------------------------------------------------------
    @property
    def outstanding(self) -> int:
        """Tickets issued and not yet finished."""
        return self._inflight

    def issue(self) -> int:
        with self._cv:
            t = self._issued
            self._issued += 1
            self._inflight += 1
            return t

    def wait_turn(self, ticket: int) -> None:
        with self._cv:
            while self._waits() and self._serving != ticket:
                self._cv.wait()

    def finish(self, ticket: int) -> None:
        """The ticket's work is done (or will never be done: a dead actor's message)."""
        jobs: list[Callable[[], None]] = []
        with self._cv:
            self._inflight -= 1
            if self.sequencing and not self.released and ticket >= self._serving:  # lending too
                self._finished.add(ticket)
                while self._serving in self._finished:
                    self._finished.discard(self._serving)
                    self._serving += 1
                    job = self._trio_jobs.pop(self._serving, None)
                    if job is not None:
                        jobs.append(job)
                        break  # the job finishes its own ticket
            idle = self._inflight == 0
            self._cv.notify_all()
        for job in jobs:
            self._run_on_trio(job)
        if idle and self._on_idle is not None:
            self._on_idle()

    def submit_trio(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the venue thread when its ticket's turn comes."""
        with self._cv:
            ticket = self._issued
            self._issued += 1
            self._inflight += 1

            def job() -> None:
                try:
                    fn()
                finally:
                    self.finish(ticket)

            ready = not self._waits() or self._serving == ticket
            if not ready:
                self._trio_jobs[ticket] = job
        if ready:
            self._run_on_trio(job)

    def _run_on_trio(self, job: Callable[[], None]) -> None:
        if self._dispatch is None:
            raise RuntimeError("turnstile has no venue thread bound")
        self._dispatch(job)


class SequencedInbox(queue.Queue):
    """An actor's inbox whose messages wait for their ticket's turn.

    ``put`` issues the ticket (atomically with the enqueue, so each inbox holds its
    tickets in order); ``get`` first finishes the message handled before (the actor
    loop only asks for the next message when done with the last), then waits for the
    next one's turn.
    """

    def __init__(self, turnstile: Turnstile) -> None:
        super().__init__()
        self.turnstile = turnstile
        self._current: int | None = None
        self._closed = False
        self._put_lock = threading.Lock()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self._put_lock:
            if self._closed:
                super().put((None, item), block, timeout)  # to a dead actor: no turn to take
                return
            super().put((self.turnstile.issue(), item), block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        self._done_with_current()
        ticket, item = super().get(block, timeout)
        if ticket is not None:
            self.turnstile.wait_turn(ticket)
            self._current = ticket
        return item

    def _done_with_current(self) -> None:
        cur, self._current = self._current, None
        if cur is not None:
            self.turnstile.finish(cur)

    def close(self) -> None:
        """The actor's loop ended: what it was handling and what waits here never runs."""
        with self._put_lock:
            self._closed = True
            self._done_with_current()
            waiting: list[int] = []
            with self.mutex:
                for ticket, _ in self.queue:
                    if ticket is not None:
                        waiting.append(ticket)
                self.queue = type(self.queue)((None, item) for _, item in self.queue)
        for ticket in waiting:
            self.turnstile.finish(ticket)


class LockstepClock(trio.abc.Clock):
    """trio's clock in lockstep: virtual seconds that jump to the next timer only while
    the hive is quiet. ``held`` keeps it at its time (start-up); it never passes
    ``limit`` (the time the hive was asked to run to); ``free`` lets it run at
    real-time rate from where it stands (for the stop)."""

    def __init__(self, turnstile: Turnstile) -> None:
        self.turnstile = turnstile
        self._t = 0.0
        self.held = True
        self.limit = 0.0
        self.parked = False  # at the limit with everything due by then done
        self._free_since: float | None = None

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        since = self._free_since
        if since is not None:
            return self._t + (time.perf_counter() - since)
        return self._t

    def deadline_to_sleep_time(self, deadline: float) -> float:
        if self._free_since is not None:
            return max(0.0, deadline - self.current_time())
        if deadline <= self._t:
            return 0.0
        if self.held or self.turnstile.outstanding > 0:
            return _POLL_S  # the hive is working: wait (its last ticket wakes us)
        if deadline > self.limit:
            self._t = max(self._t, self.limit)
            self.parked = True
            return _POLL_S  # asked to go no further (yet)
        self._t = deadline
        return 0.0

    def run_to(self, t: float) -> None:
        """Let time go on up to ``t`` (the venue thread must be woken to see it)."""
        if t > self.limit:
            self.parked = False
            self.limit = t

    def free(self) -> None:
        if self._free_since is None:
            self._free_since = time.perf_counter()


_active: Turnstile | None = None
_active_lock = threading.Lock()


def activate(turnstile: Turnstile | None) -> None:
    """The turnstile actors created from now on queue through (None: plain inboxes)."""
    global _active
    with _active_lock:
        _active = turnstile


def active() -> Turnstile | None:
    return _active


def lending() -> contextlib.AbstractContextManager[None]:
    """``Turnstile.lend`` of the active turnstile (nothing outside lockstep)."""
    t = _active
    return contextlib.nullcontext() if t is None else t.lend()


def new_inbox() -> queue.Queue:
    t = _active
    return queue.Queue() if t is None else SequencedInbox(t)
