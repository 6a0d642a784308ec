"""The venue runtime: one trio thread that owns every timer and all venue I/O.

Actors never touch trio directly. They go through this facade, which turns every way
trio can fail under them (``trio.Cancelled`` leaking out at shutdown, a finished run,
a timeout) into ``VenueUnavailable``, an ordinary Exception. A BaseException escaping
an actor would make pykka stop every actor in the process.

The clock is trio's: ``trio.testing.MockClock(rate=speed)`` runs the simulated venue
faster than real time (``--speed``); with speed 1 it is real time. Timestamps handed to
actors come from this clock. In lockstep (``venues.lockstep``) the clock is a
``LockstepClock`` and jobs handed over with ``submit`` wait for their turn.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Awaitable, Callable

import trio
import trio.testing

log = logging.getLogger(__name__)


class VenueUnavailable(Exception):
    """The venue runtime could not run the request (stopped, stopping, or timed out)."""


class VenueRequestFailed(VenueUnavailable):
    """The venue answered a request with an error; callers treat it like an outage
    (retry later, reconcile), never as a reason to believe any state changed."""


class VenueRuntime:
    """Runs ``trio.run`` in a dedicated non-daemon thread and exposes a safe facade."""

    def __init__(self, speed: float = 1.0, name: str = "venue-io", turnstile: Any = None) -> None:
        self.speed = speed
        self.turnstile = turnstile  # venues.lockstep.Turnstile, or None
        if turnstile is not None:
            from venues.lockstep import LockstepClock

            self.clock: Any = LockstepClock(turnstile)
        else:
            self.clock = trio.testing.MockClock(rate=speed)
        self._name = name
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._stop: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self._services: list[Callable[..., Awaitable[Any]]] = []
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------
    def add_service(self, afn: Callable[..., Awaitable[Any]]) -> None:
        """An async function started in the runtime's nursery when it starts."""
        self._services.append(afn)

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=False)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise VenueUnavailable("venue runtime did not start")
        if self._error is not None:
            raise VenueUnavailable(_reason(self._error))

    def _run(self) -> None:
        try:
            trio.run(self._main, clock=self.clock)
        except BaseException as e:  # the thread must end quietly, the error is kept
            self._error = e
            log.exception("venue runtime crashed")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        if self.turnstile is not None:
            self.turnstile.bind_trio(self._dispatch, self.wake)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for afn in self._services:
                await nursery.start(afn)
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        if self._token is not None and self._stop is not None:
            try:
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
            except BaseException:  # already finished is fine
                pass
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._error is None

    def now(self) -> float:
        """The runtime clock, readable from any thread (for the main thread's bookkeeping)."""
        return self.clock.current_time()

    # -- the facade ------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a quick synchronous function in the trio thread and return its result."""
        if self._token is None:
            raise VenueUnavailable("venue runtime not started")
        try:
            return trio.from_thread.run_sync(fn, *args, trio_token=self._token)
        except trio.RunFinishedError as e:
            raise VenueUnavailable(f"venue runtime unavailable: {e}") from None
        except Exception:
            raise
        except BaseException as e:  # trio.Cancelled during shutdown
            raise VenueUnavailable(f"venue runtime stopping: {type(e).__name__}") from None

    def call_async(self, afn: Callable[..., Awaitable[Any]], *args: Any, timeout: float) -> Any:
        """Run an async function in the trio thread, wait at most ``timeout`` real seconds."""
        if self._token is None:
            raise VenueUnavailable("venue runtime not started")

        async def guarded() -> Any:
            # The deadline is in runtime-clock seconds; scale it so it is real seconds.
            with trio.fail_after(timeout * self.speed):
                return await afn(*args)

        try:
            return trio.from_thread.run(guarded, trio_token=self._token)
        except trio.TooSlowError:
            raise VenueUnavailable(f"venue request timed out after {timeout:.1f}s") from None
        except trio.RunFinishedError as e:
            raise VenueUnavailable(f"venue runtime unavailable: {e}") from None
        except Exception:
            raise
        except BaseException as e:
            raise VenueUnavailable(f"venue runtime stopping: {type(e).__name__}") from None

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Fire and forget: run ``fn(*args)`` in the trio thread soon. Never raises.

        Exceptions inside ``fn`` are logged, never allowed to reach trio (which would turn
        them into TrioInternalError and cancel everything).
        """
        token = self._token
        if token is None:
            return False

        def safe() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("venue command failed: %s", getattr(fn, "__name__", fn))

        if self.turnstile is not None:
            self.turnstile.submit_trio(safe)  # runs in its turn; dispatched like below
            return True
        try:
            token.run_sync_soon(safe)
            return True
        except BaseException:  # RunFinishedError after shutdown
            return False

    def wake(self) -> None:
        """Wake the trio thread so that its clock looks again (lockstep), from any thread."""
        self._dispatch(_nothing)

    def _dispatch(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the trio thread soon, from any thread; dropped after shutdown."""
        token = self._token
        if token is None:
            return
        try:
            token.run_sync_soon(fn)
        except BaseException:  # RunFinishedError after shutdown
            pass

    def spawn(self, afn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start a background task in the runtime's nursery (call from the trio thread).

        Its failure is logged, never raised: one failed background request must not
        cancel the nursery and with it every feed and timer of every asset."""
        assert self._nursery is not None

        async def guarded() -> None:
            try:
                await afn(*args)
            except VenueUnavailable as e:  # an outage: expected, say it in one line
                log.warning("background venue task %s: %s", getattr(afn, "__name__", afn), e)
            except Exception:
                log.exception("background venue task %s failed", getattr(afn, "__name__", afn))

        self._nursery.start_soon(guarded)


def _nothing() -> None:
    """Wakes the trio thread so that its clock looks again."""


def _reason(error: BaseException) -> str:
    """Why the runtime did not start, in the venue's own words: the first
    ``VenueUnavailable`` inside trio's exception groups (it names the URL)."""
    leaves = [error]
    while leaves:
        e = leaves.pop(0)
        if isinstance(e, BaseExceptionGroup):
            leaves = list(e.exceptions) + leaves
        elif isinstance(e, VenueUnavailable):
            return str(e)
    return f"venue runtime failed to start: {error!r}"
