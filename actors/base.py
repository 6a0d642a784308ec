"""SupervisedActor: the pykka base class every makerhive actor (and supervisor) uses.

pykka has no supervision, so each actor reports its own end to its parent:
- a handler that raises (message sent with ``tell``) -> pykka calls ``on_failure`` ->
  we run ``cleanup`` and tell the parent ``ChildExited(reason="error")``;
- ``init`` (our ``on_start``) raising -> pykka calls neither hook, so we report
  ``start_failed`` ourselves;
- a normal stop -> ``on_stop`` -> ``cleanup`` and ``ChildExited(reason="normal")``.

A hung actor does not die: ``Liveness.busy_since`` lets the supervisor's watchdog see
a handler running past its budget; setting ``kill_switch`` makes the actor die at its
next message. No BaseException ever leaves a handler (pykka would then stop every
actor in the process): they are turned into ``ActorCrashed``.

In lockstep (``venues.lockstep``) an actor's inbox hands it messages in the hive's one
global order.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pykka

from messages.control import ChildExited, Crash, ExitReason, Ping
from venues import lockstep

log = logging.getLogger(__name__)


class ActorCrashed(Exception):
    """A handler failed; carries the original exception as its cause."""


class Killed(Exception):
    """The supervisor set the kill switch (the thread-world's brutal_kill)."""


class Liveness:
    """Shared between an actor and its supervisor: what the watchdog reads."""

    __slots__ = ("busy_since", "kill_switch", "handled")

    def __init__(self) -> None:
        self.busy_since: float | None = None  # monotonic seconds, None when idle
        self.kill_switch = threading.Event()
        self.handled = 0


class SupervisedActor(pykka.ThreadingActor):
    use_daemon_thread = True  # an abandoned (hung) actor must not keep the process alive

    def __init__(self, *, parent: pykka.ActorRef | None, child_id: str, epoch: int,
                 liveness: Liveness | None = None, faults: Any = None, fault_key: str = "",
                 fault_role: str = "") -> None:
        super().__init__()
        self.parent = parent
        self.child_id = child_id
        self.epoch = epoch
        self.liveness = liveness or Liveness()
        self._reported = False
        self._faults = faults  # actors.faults.ActorFaults, or None
        self._fault_key = fault_key  # the asset
        self._fault_role = fault_role or child_id

    # -- hooks for subclasses -------------------------------------------------------
    def init(self) -> None:
        """Start-up work (may talk to the venue). Raising fails the start."""

    def handle(self, msg: Any) -> Any:
        raise ActorCrashed(f"{self.child_id}: unexpected message {type(msg).__name__}")

    def cleanup(self, reason: ExitReason) -> None:
        """Release what the actor holds (e.g. cancel orders). Must not raise."""

    def first_act_on_failure(self) -> None:
        """Runs first when a handler fails, before cleanup and before the supervisor hears
        of it (asset actors cancel the asset's orders here). Must not raise or block."""

    # -- pykka plumbing ------------------------------------------------------------
    @staticmethod
    def _create_actor_inbox() -> Any:
        return lockstep.new_inbox()

    def _actor_loop_teardown(self) -> None:
        inbox = self.actor_inbox
        if isinstance(inbox, lockstep.SequencedInbox):
            inbox.close()  # what was left here will never take its turn
        super()._actor_loop_teardown()

    def on_start(self) -> None:
        try:
            if self._faults is not None:
                self._faults.on_start(self._fault_key, self._fault_role)
            self.init()
        except BaseException as e:  # reported, then pykka stops us
            self._safe_cleanup("start_failed")
            self._report("start_failed", repr(e))
            if isinstance(e, Exception):
                raise
            raise ActorCrashed(repr(e)) from e

    def on_receive(self, message: Any) -> Any:
        lv = self.liveness
        if lv.kill_switch.is_set():
            raise Killed(f"{self.child_id} killed by its supervisor")
        if type(message) is Ping:
            return True
        if type(message) is Crash:
            raise ActorCrashed(f"{self.child_id}: {message.detail}")
        lv.busy_since = time.monotonic()
        try:
            if self._faults is not None:
                self._faults.on_handle(self._fault_key, self._fault_role, lv)
            return self.handle(message)
        except Exception:
            raise
        except BaseException as e:  # never let one escape into pykka
            raise ActorCrashed(f"{self.child_id}: {type(e).__name__}: {e}") from e
        finally:
            lv.busy_since = None
            lv.handled += 1

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        try:
            self.first_act_on_failure()
        except Exception:
            log.exception("%s: first act on failure failed", self.child_id)
        reason: ExitReason = "killed" if exception_type is Killed else "error"
        self._safe_cleanup(reason)
        self._report(reason, f"{exception_type.__name__}: {exception_value}")

    def on_stop(self) -> None:
        self._safe_cleanup("normal")
        self._report("normal")

    def _safe_cleanup(self, reason: ExitReason) -> None:
        try:
            self.cleanup(reason)
        except Exception:
            log.exception("%s: cleanup failed", self.child_id)

    def _report(self, reason: ExitReason, detail: str = "") -> None:
        if self._reported or self.parent is None:
            return
        self._reported = True
        try:
            self.parent.tell(ChildExited(child_id=self.child_id, epoch=self.epoch, reason=reason, detail=detail,
                                         at_ns=time.perf_counter_ns()))
        except pykka.ActorDeadError:
            pass
