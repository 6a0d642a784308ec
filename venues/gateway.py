"""The venue gateway: the one door between actors and a venue.

It lives on the venue runtime's trio thread. Responsibilities that do not depend on
which venue is behind it:

- **Epoch fencing.** Each asset has a current order epoch. The asset supervisor takes a
  new epoch (``new_epoch``) before it starts an order actor; any command carrying an
  older epoch is refused and counted, so a hung, abandoned order actor that wakes up
  later (a zombie) can never trade.
- **Routing.** Venue events (acks, rejects, cancels, fills) go to the asset's current
  order actor; books (conflated through a latest-wins slot) and trades go to the book
  actor.
- **A safe facade.** Thread-side methods never raise trio's BaseExceptions; they raise
  ``VenueUnavailable`` or return.
"""
from __future__ import annotations

import collections
import logging
import time
from collections.abc import Mapping
from typing import Any, Awaitable, Callable, Protocol

import trio

from messages.market import BookReady, BookSnapshot, Trade
from messages.orders import (AccountSnapshot, CancelOrders, Fill, OpenOrder, OrderReject, PlaceOrders, Resync,
                             VenueBatch)
from messages.risk import FillHistory
from venues.dead_mans_switch import DeadMansSwitch
from venues.latest_slot import LatestSlot
from venues.runtime import VenueRuntime

log = logging.getLogger(__name__)

CANCEL_RETRIES = 5


BOOK_READY = BookReady()


class VenueCore(Protocol):
    """What a venue implementation offers the gateway (all called on the trio thread)."""

    name: str

    def send(self, cmds: tuple[CancelOrders | PlaceOrders, ...]) -> None: ...
    async def cancel_all(self, asset: str) -> int: ...
    async def open_orders(self, asset: str) -> tuple[OpenOrder, ...]: ...
    async def position(self, asset: str) -> float: ...
    async def fills(self, asset: str, since_ts: float) -> tuple[Fill, ...]: ...
    async def snapshot(self, asset: str, since_ts: float) -> AccountSnapshot: ...
    async def schedule_cancel(self, at: float | None) -> str | None: ...
    def asset_index(self, asset: str) -> int: ...


class Router(Protocol):
    """Where an asset's roles ("order", "book") are reached (``actors.team.Team`` is one):
    a protocol, so the venue layer never imports the actors above it."""

    def tell(self, role: str, msg: Any) -> bool: ...


class Gateway:
    def __init__(self, runtime: VenueRuntime, teams: Mapping[str, Router], board: Any = None,
                 epoch_base: int = 0) -> None:
        self.runtime = runtime
        self.teams = teams
        self.board = board
        self.venue: VenueCore | None = None
        self.book_slots: dict[str, LatestSlot] = {a: LatestSlot() for a in teams}
        # epochs count up from epoch_base (exchange_rules.cloid.session_epoch_base on a venue
        # that outlives the process); 0 is "no order actor yet" and admits nothing
        self._epochs: dict[str, int] = {a: epoch_base for a in teams}
        self._epoch_base = epoch_base
        self.refused: dict[str, int] = {a: 0 for a in teams}
        # when cancel-alls left for the venue (recent ones), for recovery-time measurement
        self.cancel_sent_ns: dict[str, collections.deque[int]] = {a: collections.deque(maxlen=32) for a in teams}
        self.commands_sent = 0
        self.dms_at: float | None = None  # when the venue will cancel everything unless renewed
        self.dms: DeadMansSwitch | None = None  # set when the switch is on: no placement unless it protects us

    def attach(self, venue: VenueCore) -> None:
        self.venue = venue

    # -- venue -> actors (trio thread) -----------------------------------------
    def deliver(self, asset: str, msg: Any) -> None:
        team = self.teams.get(asset)
        if team is not None:
            team.tell("order", msg)

    def deliver_book(self, snap: BookSnapshot) -> None:
        slot = self.book_slots.get(snap.asset)
        if slot is not None and slot.put(snap):
            if not self.teams[snap.asset].tell("book", BOOK_READY):
                slot.take()  # nobody to wake (restarting): the next book will try again

    def reconnected(self, asset: str, ts: float) -> None:
        """The venue connection for ``asset`` is back: its order actor must reconcile."""
        if self.board is not None:
            self.board.event(ts, "info", asset, "venue connection back: reconciling")
        self.deliver(asset, Resync(asset, ts, "reconnected"))

    def deliver_trade(self, trade: Trade) -> None:
        team = self.teams.get(trade.asset)
        if team is not None:
            team.tell("book", trade)

    # -- fencing (trio thread) ---------------------------------------------------
    def _new_epoch(self, asset: str) -> int:
        self._epochs[asset] += 1
        return self._epochs[asset]

    def _admit(self, asset: str, epoch: int) -> bool:
        current = self._epochs.get(asset, 0)
        if epoch == current and current > self._epoch_base:
            return True
        self.refused[asset] = self.refused.get(asset, 0) + 1
        if self.board is not None:
            self.board.event(self.runtime.now(), "fenced", asset,
                             f"refused a command from retired epoch {epoch} (current {current})")
        return False

    def _send(self, cmds: tuple[CancelOrders | PlaceOrders, ...]) -> None:
        if cmds and self._admit(cmds[0].asset, cmds[0].epoch):
            assert self.venue is not None
            if self.dms is not None and any(isinstance(c, PlaceOrders) for c in cmds):
                why = self.dms.why_not(self.runtime.now())
                if why:
                    cmds = self._hold_placements(cmds, why)
                    if not cmds:
                        return
            self.commands_sent += len(cmds)
            self.venue.send(cmds)

    def _hold_placements(self, cmds: tuple[CancelOrders | PlaceOrders, ...],
                         why: str) -> tuple[CancelOrders | PlaceOrders, ...]:
        """Unprotected: placements are answered here with a reject each; cancels still go."""
        asset, now = cmds[0].asset, self.runtime.now()
        rejects = tuple(OrderReject(asset, o.cloid, why, now) for c in cmds if isinstance(c, PlaceOrders)
                        for o in c.orders)
        self.deliver(asset, VenueBatch(asset, now, rejects))
        return tuple(c for c in cmds if isinstance(c, CancelOrders))

    # -- the thread-side facade --------------------------------------------------
    def send(self, *cmds: CancelOrders | PlaceOrders) -> bool:
        """Send order commands of one asset and epoch, applied in the given order
        (fire and forget: the venue's answers arrive as messages)."""
        return self.runtime.submit(self._send, cmds)

    def place(self, cmd: PlaceOrders) -> bool:
        """Send post-only orders."""
        return self.send(cmd)

    def cancel(self, cmd: CancelOrders) -> bool:
        return self.send(cmd)

    def new_epoch(self, asset: str) -> int:
        """Retire the asset's current order epoch (fencing it) and return the next one."""
        return self.runtime.call(self._new_epoch, asset)

    def current_epoch(self, asset: str) -> int:
        return self._epochs.get(asset, 0)

    async def _cancel_all(self, asset: str) -> int:
        assert self.venue is not None
        self.cancel_sent_ns[asset].append(time.perf_counter_ns())
        return await self.venue.cancel_all(asset)

    def cancel_all(self, asset: str, timeout: float = 5.0) -> int:
        """Cancel every order of ``asset`` at the venue and wait until it confirms."""
        return self.runtime.call_async(self._cancel_all, asset, timeout=timeout)

    async def _cancel_known(self, asset: str) -> int:
        """Cancel the orders of ``asset`` the venue knows of, without reading the open
        orders first where the venue can (Hyperliquid: that read costs 20 of the minute's
        1,200 IP weight); a venue that cannot does a whole cancel-all."""
        assert self.venue is not None
        known = getattr(self.venue, "cancel_known", None)
        if known is None:
            return await self._cancel_all(asset)
        self.cancel_sent_ns[asset].append(time.perf_counter_ns())
        return await known(asset)

    async def _cancel_retrying(self, cancel: Callable[[str], Awaitable[int]], asset: str) -> None:
        """Money first does not give up after one failed request."""
        for attempt in range(CANCEL_RETRIES):
            try:
                await cancel(asset)
                return
            except Exception as e:  # logged, retried
                log.warning("cancel-all for %s failed (attempt %d): %r", asset, attempt + 1, e)
                await trio.sleep(0.05 * 2 ** attempt)
        if self.board is not None:
            self.board.event(self.runtime.now(), "failure", asset,
                             f"cancel-all failed {CANCEL_RETRIES} times; reconciliation will cancel")

    def cancel_all_soon(self, asset: str) -> bool:
        """Fire-and-forget cancel-all (never blocks the caller), retried on failure."""
        return self.runtime.submit(lambda: self.runtime.spawn(self._cancel_retrying, self._cancel_all, asset))

    def cancel_known_soon(self, asset: str) -> bool:
        """A failing actor's first act: cancel at once what the venue knows of ours on
        ``asset`` (fire-and-forget, retried). Its supervisor's confirmed ``cancel_all``
        follows and reads the venue for anything else (an order of unknown outcome):
        reading twice per failure spent Hyperliquid's IP weight when restarts came often."""
        return self.runtime.submit(lambda: self.runtime.spawn(self._cancel_retrying, self._cancel_known, asset))

    def open_orders(self, asset: str, timeout: float = 5.0) -> tuple[OpenOrder, ...]:
        assert self.venue is not None
        return self.runtime.call_async(self.venue.open_orders, asset, timeout=timeout)

    def position(self, asset: str, timeout: float = 5.0) -> float:
        assert self.venue is not None
        return self.runtime.call_async(self.venue.position, asset, timeout=timeout)

    def fills(self, asset: str, since_ts: float = 0.0, timeout: float = 5.0) -> tuple[Fill, ...]:
        assert self.venue is not None
        return self.runtime.call_async(self.venue.fills, asset, since_ts, timeout=timeout)

    # -- the dead-man's switch ---------------------------------------------------------------
    async def _schedule_cancel(self, at: float | None) -> None:
        assert self.venue is not None
        try:
            refusal = await self.venue.schedule_cancel(at)
        except Exception as e:
            log.warning("dead-man's switch renewal failed: %r", e)
            if self.dms is not None:
                self.dms.on_failed(str(e))
            self._dms_check()
            return
        self.dms_at = at if refusal is None else self.dms_at
        if refusal is not None and self.board is not None:
            self.board.event(self.runtime.now(), "failure", "*", f"dead-man's switch refused: {refusal}")
        if self.dms is not None:
            if refusal is not None:
                self.dms.on_refused(refusal)
            elif at is None:
                self.dms.on_cleared()
            else:
                self.dms.on_renewed(at)
        self._dms_check()

    def _dms_check(self) -> None:
        """Act on the switch's state: when it stops protecting us, every asset cancels
        (placements are already held back); when it does again, say so."""
        dms = self.dms
        if dms is None:
            return
        now = self.runtime.now()
        stopped, resumed = dms.update(now)
        board = self.board
        if board is not None:
            board.venue_status.update(dms.status(now))
        if stopped:
            if board is not None:
                board.count("dms_quoting_stops")
                board.event(now, "halt", "*", f"{dms.blocked_reason}: quoting stopped, cancelling every order")
            for asset in self.teams:
                self.runtime.spawn(self._cancel_retrying, self._cancel_all, asset)
        elif resumed and board is not None:
            board.event(now, "resume", "*", "dead-man's switch set again: quoting resumes")

    def check_dead_mans_switch_soon(self) -> bool:
        """Look at the switch now (the meta-supervisor's tick): a lapse stops quoting."""
        return self.runtime.submit(self._dms_check)

    def schedule_cancel_soon(self, at: float | None) -> bool:
        """Renew (or with None clear) the venue-side cancel-everything-at ``at``."""
        return self.runtime.submit(lambda: self.runtime.spawn(self._schedule_cancel, at))

    def schedule_cancel(self, at: float | None, timeout: float = 5.0) -> None:
        self.runtime.call_async(self._schedule_cancel, at, timeout=timeout)

    def snapshot(self, asset: str, since_ts: float = 0.0, timeout: float = 5.0) -> AccountSnapshot:
        """Open orders, position and fills since ``since_ts``, all of one instant."""
        assert self.venue is not None
        return self.runtime.call_async(self.venue.snapshot, asset, since_ts, timeout=timeout)

    def fetch_fills(self, asset: str, since_ts: float, urgent: bool = False) -> bool:
        """Ask the venue for fills since ``since_ts`` without waiting: the answer reaches
        the asset's order actor as a ``FillHistory`` message. A routine read where the venue
        has one (it gives way to the request weight kept for recovery), unless ``urgent``:
        the position is known to be in doubt (a reconcile that failed)."""
        assert self.venue is not None
        read = self.venue.fills if urgent else getattr(self.venue, "sync_fills", self.venue.fills)

        async def fetch() -> None:
            try:
                fills = await read(asset, since_ts)
            except Exception as e:  # a failed sync is retried next time
                (log.debug if getattr(e, "quiet", False) else log.warning)("fill sync for %s failed: %r", asset, e)
                return
            self.deliver(asset, FillHistory(asset, self.runtime.now(), tuple(fills)))

        return self.runtime.submit(lambda: self.runtime.spawn(fetch))

    def first_cancel_after(self, asset: str, ns: int) -> int:
        """When the first cancel-all of ``asset`` left after ``ns`` (0 if none did)."""
        return next((t for t in self.cancel_sent_ns[asset] if t >= ns), 0)

    def asset_index(self, asset: str) -> int:
        assert self.venue is not None
        return self.venue.asset_index(asset)

    def budget_share_left(self) -> float:
        """The share of the venue's address action budget left (1.0 where none is kept);
        a plain attribute read, safe from any thread."""
        return float(getattr(self.venue, "budget_share", 1.0))

