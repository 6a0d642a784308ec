"""A generic OTP-style supervisor actor on pykka.

Children start synchronously in order (each start waits for the child's ``init`` via a
``Ping`` barrier) and stop in reverse order, each within its shutdown timeout (a child
that does not stop in time is killed by its kill switch and abandoned: Python threads
cannot be killed). On an abnormal exit the supervisor restarts the affected children
per its strategy, within its restart intensity; past the intensity it stops its
children and fails itself, which reports to (escalates to) its own parent.

A watchdog on each ``Tick`` treats a child whose handler has been busy longer than
its budget as hung: it is fenced (a new incarnation gets a new epoch), kill-switched,
abandoned and restarted like a crashed one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import pykka

from actors.base import Killed, Liveness, SupervisedActor
from messages.control import ChildExited, EventKind, ExitReason, Ping, Tick
from supervisor.policy import RestartIntensity, RestartType, Strategy, affected_children, should_restart
from venues import lockstep

log = logging.getLogger(__name__)

BUSY_STOP_GRACE_S = 0.1  # real seconds a child caught in a handler gets to stop before it is abandoned

START_POLL_S = 0.05  # real seconds between looks at a starting child that has not answered yet


class _HungAtStart(Exception):
    pass


StartFn = Callable[[pykka.ActorRef, str, int, Liveness], pykka.ActorRef]


@dataclass
class ChildSpec:
    id: str
    start: StartFn  # (parent ref, child id, epoch, liveness) -> started ActorRef
    restart: RestartType = "permanent"
    shutdown_timeout: float = 5.0  # real seconds
    max_handler_s: float = 5.0  # real seconds a single handler may run before it counts as hung


class GaveUp(Exception):
    """Restart intensity exceeded: the supervisor fails itself (escalation)."""


class StartFailed(Exception):
    def __init__(self, msg: str, hung_ns: int = 0) -> None:
        super().__init__(msg)
        self.hung_ns = hung_ns  # perf-counter ns the child was declared hung (0: it failed otherwise)


@dataclass
class _Child:
    spec: ChildSpec
    ref: pykka.ActorRef
    epoch: int
    liveness: Liveness


class Supervisor(SupervisedActor):
    def __init__(self, *, parent: pykka.ActorRef | None, child_id: str, epoch: int,
                 specs: list[ChildSpec], strategy: Strategy, intensity: int, period: float,
                 start_timeout: float = 10.0, now: float = 0.0,
                 on_event: Callable[[float, EventKind, str], None] | None = None,
                 liveness: Liveness | None = None, faults: Any = None, fault_key: str = "",
                 fault_role: str = "") -> None:
        super().__init__(parent=parent, child_id=child_id, epoch=epoch, liveness=liveness,
                         faults=faults, fault_key=fault_key, fault_role=fault_role)
        self.specs = {s.id: s for s in specs}
        self.order = [s.id for s in specs]
        self.strategy = strategy
        self.intensity = RestartIntensity(intensity, period)
        self.start_timeout = start_timeout
        self.now = now
        self._on_event = on_event
        self.children: dict[str, _Child] = {}
        self.failure_ns = 0  # when the failure being handled happened (perf counter)
        self._next_epoch = 0
        self.restarts = 0

    # -- hooks -------------------------------------------------------------------------
    def before_restart(self, failed: str, affected: list[str], reason: ExitReason) -> None:
        """Runs first on any abnormal exit (the asset supervisor cancels orders here)."""

    def child_started(self, cid: str, ref: pykka.ActorRef) -> None:
        """A child is up (after its init)."""

    def child_stopped(self, cid: str, ref: pykka.ActorRef) -> None:
        """A child is gone (stopped, crashed or abandoned)."""

    @property
    def abandoned(self) -> bool:
        """Our own supervisor gave up on us (we hung): act on nothing but our own children."""
        return self.liveness.kill_switch.is_set()

    def emit(self, kind: EventKind, text: str) -> None:
        if self._on_event is not None:
            self._on_event(self.now, kind, text)

    # -- lifecycle -----------------------------------------------------------------------
    def init(self) -> None:
        started: list[str] = []
        try:
            for cid in self.order:
                self._start(cid)
                started.append(cid)
        except Exception:
            for cid in reversed(started):
                self._terminate(cid)
            raise

    def cleanup(self, reason: ExitReason) -> None:
        for cid in reversed(self.order):
            if cid in self.children:
                self._terminate(cid)

    def handle(self, msg: Any) -> Any:
        if isinstance(msg, ChildExited):
            self._child_exited(msg)
        elif isinstance(msg, Tick):
            self.on_tick(msg)
        else:
            return self.handle_other(msg)
        return None

    def handle_other(self, msg: Any) -> Any:
        return super().handle(msg)

    def on_tick(self, tick: Tick) -> None:
        self.now = tick.now
        self._watchdog()

    # -- children ------------------------------------------------------------------------
    def _start(self, cid: str) -> _Child:
        if self.abandoned:  # a zombie supervisor must not start a rival incarnation
            raise Killed(f"{self.child_id} was abandoned by its supervisor")
        spec = self.specs[cid]
        self._next_epoch += 1
        lv = Liveness()
        ref = spec.start(self.actor_ref, cid, self._next_epoch, lv)
        try:
            self._await_started(ref, lv, spec)
        except (pykka.ActorDeadError, pykka.Timeout) as e:
            lv.kill_switch.set()
            raise StartFailed(f"{cid} failed to start: {type(e).__name__}") from e
        except _HungAtStart as e:
            lv.kill_switch.set()
            raise StartFailed(f"{cid} failed to start: {e}", hung_ns=time.perf_counter_ns()) from e
        child = _Child(spec, ref, self._next_epoch, lv)
        self.children[cid] = child
        self.child_started(cid, ref)
        return child

    def _await_started(self, ref: pykka.ActorRef, lv: Liveness, spec: ChildSpec) -> None:
        """Wait for the child's answer to the start ``Ping``. A message that reached the
        child before the Ping (a reply to what its ``init`` asked) is handled first; if that
        handler hangs, waiting out the whole start timeout would leave every sibling
        unwatched meanwhile, so a handler past the child's budget fails the start at once."""
        if lockstep.active() is not None:
            with lockstep.lending():  # in lockstep we hold the turn the child needs
                ref.ask(Ping(), timeout=self.start_timeout)
            return
        answer = ref.ask(Ping(), block=False)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                answer.get(timeout=max(0.0, min(START_POLL_S, deadline - time.monotonic())))
                return
            except pykka.Timeout:
                now = time.monotonic()
                busy = lv.busy_since
                if busy is not None and now - busy > spec.max_handler_s:
                    raise _HungAtStart(f"hung in its first handlers ({now - busy:.1f}s)") from None
                if now >= deadline:
                    raise

    def hang_declared(self, at_ns: int) -> None:
        """Hook: a child starting in a restart was declared hung at ``at_ns``."""

    def _terminate(self, cid: str) -> None:
        child = self.children.pop(cid, None)
        if child is None:
            return
        busy = child.liveness.busy_since
        if busy is not None and time.monotonic() - busy > child.spec.max_handler_s:
            # stuck in one handler past its budget: hung, so waiting for it is pointless
            child.liveness.kill_switch.set()
            self.emit("failure", f"{cid} hung while being stopped: abandoned")
            self.child_stopped(cid, child.ref)
            return
        # busy in a handler: a sibling's restart must not wait out its hang (up to the
        # budget); it is fenced and muted once abandoned, so a short grace is enough
        timeout = child.spec.shutdown_timeout
        if busy is not None and lockstep.active() is None:  # in lockstep a busy child may be waiting its turn
            timeout = min(BUSY_STOP_GRACE_S, timeout)
        try:
            with lockstep.lending():
                child.ref.stop(block=True, timeout=timeout)
        except pykka.Timeout:
            child.liveness.kill_switch.set()
            self.emit("failure", f"{cid} did not stop within {timeout:g}s: abandoned")
        except pykka.ActorDeadError:
            pass
        self.child_stopped(cid, child.ref)

    def tell_child(self, cid: str, msg: Any) -> None:
        """Tell a child; one that has died meanwhile is not an error here (its own
        ChildExited report, already queued, is how we learn of it)."""
        child = self.children.get(cid)
        if child is not None:
            try:
                child.ref.tell(msg)
            except pykka.ActorDeadError:
                pass

    def _abandon(self, cid: str) -> None:
        child = self.children.pop(cid, None)
        if child is not None:
            child.liveness.kill_switch.set()
            self.child_stopped(cid, child.ref)

    def _child_exited(self, msg: ChildExited) -> None:
        child = self.children.get(msg.child_id)
        if child is None or child.epoch != msg.epoch:
            return  # a report from an incarnation already replaced or terminated by us
        if not should_restart(child.spec.restart, msg.reason):
            self.children.pop(msg.child_id, None)
            self.child_stopped(msg.child_id, child.ref)
            return
        self.emit("failure", f"{msg.child_id} exited ({msg.reason}): {msg.detail}"[:300])
        self.failure_ns = msg.at_ns or time.perf_counter_ns()
        self.on_child_failure(msg.child_id, msg.reason)

    def on_child_failure(self, cid: str, reason: ExitReason) -> None:
        """Default decider: restart per strategy now, within the intensity."""
        self._restart(cid, reason)

    def _restart(self, failed: str, reason: ExitReason) -> None:
        affected = affected_children(self.strategy, self.order, failed)
        self.before_restart(failed, affected, reason)
        self._abandon(failed)  # dead already, or hung: never wait on it
        for cid in reversed(affected):
            if cid != failed:
                self._terminate(cid)
        self._count_restart()  # one restart per failure, as OTP counts it
        for cid in affected:
            if cid != failed and self.specs[cid].restart == "temporary":
                continue
            while True:
                try:
                    self._start(cid)
                    break
                except StartFailed as e:  # a failed restart counts again, then retries
                    self.emit("failure", str(e))
                    if e.hung_ns:
                        self.hang_declared(e.hung_ns)
                    self._count_restart()
        self.restarts += 1
        self.emit("restart", f"restarted {', '.join(affected)} after {failed} {reason}")

    def _count_restart(self) -> None:
        if not self.intensity.allow(self.now):
            self.emit("gave_up", f"more than {self.intensity.max_restarts} restarts in "
                                 f"{self.intensity.period:g}s: giving up")
            raise GaveUp(f"{self.child_id}: restart intensity exceeded")

    def _watchdog(self) -> None:
        now = time.monotonic()
        for cid in list(self.order):
            child = self.children.get(cid)
            if child is None:
                continue
            busy = child.liveness.busy_since
            if busy is not None and now - busy > child.spec.max_handler_s:
                self.emit("failure", f"{cid} hung: one handler busy for {now - busy:.1f}s; fenced and abandoned")
                self.failure_ns = time.perf_counter_ns()
                self.on_child_failure(cid, "hung")
