"""AssetActor: what the four actors of an asset's team have in common.

Teammates are addressed by role through ``send``, which a fenced (abandoned) incarnation
cannot use. Money first: when any of them fails, its very first act, before cleanup and before its
supervisor even hears of it, is a fire-and-forget cancel-all of the asset's orders
through the venue gateway. The supervisor then fences the order epoch and waits for the
venue to confirm; the cancel is already on the wire.
"""
from __future__ import annotations

from typing import Any

import pykka

from actors.base import SupervisedActor
from actors.context import AssetContext
from strategy.outbox import LOG, SUPERVISOR, Outbox


class AssetActor(SupervisedActor):
    def __init__(self, ctx: AssetContext, **kw: Any) -> None:
        super().__init__(**kw)
        self.ctx = ctx

    def first_act_on_failure(self) -> None:
        self.ctx.gateway.cancel_known_soon(self.ctx.asset)

    @property
    def fenced(self) -> bool:
        """Abandoned by our supervisor (we hung): a replacement owns the asset now."""
        return self.liveness.kill_switch.is_set()

    @property
    def board(self) -> Any:
        """The status board; a fenced incarnation writes into a sink instead, so that a
        zombie waking up cannot overwrite its replacement's published state."""
        return _MUTED if self.fenced else self.ctx.board

    def event(self, ts: float, kind: Any, text: str) -> None:
        self.board.event(ts, kind, self.ctx.asset, text)

    def send(self, role: str, msg: Any) -> bool:
        """Tell a teammate, unless we have been fenced: an abandoned (hung) incarnation
        that wakes up must not steer its replacement's team."""
        if self.fenced:
            return False
        return self.ctx.team.tell(role, msg)

    def deliver(self, out: Outbox) -> None:
        """Hand on what the role core sends: teammates by role, notes to the event log,
        reports to the supervisor (not when fenced: a zombie's figures are stale)."""
        for to, msg in out:
            if to == LOG:
                self.event(msg.ts, msg.kind, msg.text)
            elif to == SUPERVISOR:
                self.tell_supervisor(msg)
            else:
                self.send(to, msg)

    def tell_supervisor(self, msg: Any) -> None:
        if self.fenced or self.parent is None:
            return
        try:
            self.parent.tell(msg)
        except pykka.ActorDeadError:
            pass  # the supervisor is going down: its replacement hears from our replacement


class _MutedBoard:
    """Looks like a StatusBoard to a fenced actor; keeps nothing it is given."""

    @property
    def market(self) -> dict:
        return {}

    risk = quotes = quote_sizes = phase = sweeps = market

    def set_phase(self, *args: Any) -> None:
        pass

    def set_guard(self, *args: Any) -> None:
        pass

    def count(self, *args: Any) -> None:
        pass

    def event(self, *args: Any) -> None:
        pass

    def record_fill(self, *args: Any) -> None:
        pass


_MUTED = _MutedBoard()
