"""The embedded simulated exchange as a venue service on the trio runtime.

Wraps the pure matching engine (``venues.sim.engine.SimExchange``) with what makes it
feel like a remote exchange: a market loop on the runtime clock, an l2Book push every
``book_interval_s``, and latency on the wire in both directions. Each asset's wire is
FIFO (an arrival never overtakes an earlier one), as on one TCP connection, so a
cancel-all sent after an order is applied after it.

In lockstep (``venues.lockstep``: the runtime has a turnstile) one task runs the
engine steps, the book pushes, the hive's timers and the wires' deliveries on the
backtester's grid instead (integer nanoseconds: steps at k·``step_s``, each coin's
pushes at i/n of the interval after its first at 0, the timers at k·period, each
message after its latency), everything due at one instant back to back: the engine
step, then the pushes, then the timers, then the deliveries in the order they were sent. It
starts when the hive has started (``start_lockstep``), so the first books at t = 0
reach actors that exist; until then the wire has no latency (the clock stands still
during start-up, so a request must not wait for it).
"""
from __future__ import annotations

import heapq
import math
from typing import Any, Callable

import msgspec
import trio

from config import Config
from messages.market import BookSnapshot, Trade
from messages.orders import AccountSnapshot, CancelOrders, Fill, OpenOrder, OrderReject, PlaceOrders, VenueBatch
from venues.edge import EdgeCheck
from venues.gateway import Gateway
from venues.runtime import VenueRequestFailed
from venues.sim.engine import SimExchange
from venues.sim.latency import LatencyModel
from venues.sim.wire_faults import WireFaults


class DelayLine:
    """Items come out ``delay`` seconds after they go in, never out of order."""

    def __init__(self, handler: Callable[[Any], None]) -> None:
        self._send, self._recv = trio.open_memory_channel[tuple[float, Any]](math.inf)
        self._last = -math.inf
        self._queued = 0
        self._handler = handler

    def put(self, item: Any, delay: float) -> None:
        now = trio.current_time()
        if delay <= 0 and self._queued == 0 and self._last <= now:
            self._handler(item)  # nothing in flight to overtake: deliver now
            return
        due = max(now + delay, self._last)
        self._last = due
        self._queued += 1
        self._send.send_nowait((due, item))

    async def run(self) -> None:
        async for due, item in self._recv:
            await trio.sleep_until(due)
            self._queued -= 1
            self._handler(item)


_NS = 1_000_000_000
# what happens at one lockstep instant, in this order (then by when it was scheduled)
_STEP, _PUSH, _TIMER, _DELIVER = range(4)


class _Grid:
    """Lockstep: everything the sim venue times, on one heap of integer nanoseconds:
    (time, kind, sequence, payload), so one instant runs in the backtester's order:
    the engine step, the book pushes, the timers, then deliveries in the order sent."""

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._wake = trio.Event()

    def push(self, t_ns: int, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (t_ns, kind, self._seq, payload))
        if self.heap[0][2] == self._seq:
            self._wake.set()  # sooner than what the loop sleeps for

    async def next_instant(self) -> int:
        """Sleep until the earliest time on the heap (woken if an earlier one arrives)."""
        while True:
            t = self.heap[0][0]
            if round(trio.current_time() * _NS) >= t:
                return t
            self._wake = trio.Event()
            with trio.move_on_at(t / _NS):
                await self._wake.wait()


class _GridLine:
    """A ``DelayLine`` on the lockstep grid: the same FIFO wire, times in integer
    nanoseconds as the backtester's ``Wire`` (due = max(now + latency, the last due))."""

    def __init__(self, grid: _Grid, handler: Callable[[Any], None]) -> None:
        self._grid = grid
        self._handler = handler
        self._last = -1
        self._queued = 0

    def put(self, item: Any, delay: float) -> None:
        now = round(trio.current_time() * _NS)
        due = max(now + round(delay * _NS), self._last)
        if due <= now and self._queued == 0:
            self._handler(item)  # nothing in flight to overtake: deliver now
            return
        self._last = due
        self._queued += 1
        self._grid.push(due, _DELIVER, (self, item))

    def deliver(self, item: Any) -> None:
        self._queued -= 1
        self._handler(item)


class SimVenue:
    name = "sim"

    def __init__(self, cfg: Config, gateway: Gateway, seed: int | None = None) -> None:
        self.cfg = cfg
        self.gateway = gateway
        self.engine = SimExchange(cfg, seed if seed is not None else cfg.run.seed)
        s = cfg.sim
        self.latency = LatencyModel(s, self.engine.seed)  # sim.latency_profile
        self._wire_in: dict[str, DelayLine] = {}
        self._wire_out: dict[str, DelayLine] = {}
        self._feed: dict[str, DelayLine] = {}
        self._seq = 0
        self.wire = WireFaults()
        self.edge = EdgeCheck("sim")  # what the gateway is handed is checked first (venues/edge.py)
        self._nursery: trio.Nursery | None = None
        self.lockstep = getattr(getattr(gateway, "runtime", None), "turnstile", None) is not None
        self._go: trio.Event | None = None
        self._grid: _Grid | None = None
        self._timers: list[tuple[float, Callable[[], None]]] = []  # lockstep: (period, fn)
        gateway.attach(self)

    # -- service ------------------------------------------------------------------
    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.lockstep:
                grid = self._grid = _Grid()
                for asset in self.cfg.portfolio.assets:
                    self._wire_in[asset] = _GridLine(grid, self._arrive)  # type: ignore[assignment]
                    self._wire_out[asset] = _GridLine(grid, self._depart)  # type: ignore[assignment]
                    self._feed[asset] = _GridLine(grid, self._deliver_book)  # type: ignore[assignment]
                self.engine.advance(trio.current_time())
                self._go = trio.Event()
                nursery.start_soon(self._lockstep_loop)
                task_status.started()
                return
            for asset in self.cfg.portfolio.assets:
                self._wire_in[asset] = DelayLine(self._arrive)
                self._wire_out[asset] = DelayLine(self._depart)
                self._feed[asset] = DelayLine(self._deliver_book)
                nursery.start_soon(self._wire_in[asset].run)
                nursery.start_soon(self._wire_out[asset].run)
                nursery.start_soon(self._feed[asset].run)
            self.engine.advance(trio.current_time())
            n = len(self.cfg.portfolio.assets)
            for i, asset in enumerate(self.cfg.portfolio.assets):
                self._publish_book(asset)
                # each coin's l2Book subscription pushes on its own beat, as on Hyperliquid
                nursery.start_soon(self._book_loop, asset, i * self.cfg.sim.book_interval_s / n)
            nursery.start_soon(self._market_loop)
            task_status.started()

    async def _market_loop(self) -> None:
        step = self.cfg.sim.step_s
        while True:
            await trio.sleep(step)
            self._step_engine()

    def _step_engine(self) -> None:
        by_asset: dict[str, list[Any]] = {}
        for ev in self.engine.advance(trio.current_time()):
            if isinstance(ev, Trade):
                if self.wire.connected(ev.asset, ev.ts) and self.edge.trade(ev):
                    self.gateway.deliver_trade(ev)
            else:
                by_asset.setdefault(ev.asset, []).append(ev)
        for asset, events in by_asset.items():
            self._reply(asset, events)

    def _latency(self, draw: Callable[[], float]) -> float:
        """A draw of the wire's latency; none in lockstep before the start (start-up,
        reconciliation included, takes no simulated time there: the clock waits for it)."""
        if self._go is not None and not self._go.is_set():
            return 0.0
        return draw()

    def add_lockstep_timer(self, period_s: float, fn: Callable[[], None]) -> None:
        """Lockstep: call ``fn`` every ``period_s`` on the grid, after the engine step and
        the book pushes of the instant (the hive's supervision ticker goes here)."""
        self._timers.append((period_s, fn))

    def start_lockstep(self) -> None:
        """The hive is up: the lockstep grid starts at t = 0 (call on the trio thread)."""
        if self._go is not None:
            self._go.set()

    async def _lockstep_loop(self) -> None:
        assert self._go is not None and self._grid is not None
        await self._go.wait()
        grid = self._grid
        step_ns = round(self.cfg.sim.step_s * _NS)
        book_ns = round(self.cfg.sim.book_interval_s * _NS)
        assets = self.cfg.portfolio.assets
        n = len(assets)
        for a in assets:
            grid.push(0, _PUSH, (a, False))  # the first books, at t = 0; they start no beat
        for i, a in enumerate(assets):
            grid.push(i * book_ns // n + book_ns, _PUSH, (a, True))
        grid.push(step_ns, _STEP, None)
        periods = [round(p * _NS) for p, _ in self._timers]
        for k, period in enumerate(periods):
            grid.push(period, _TIMER, k)
        while True:
            t = await grid.next_instant()
            while grid.heap and grid.heap[0][0] == t:  # one instant, no yielding in between
                _, kind, _, payload = heapq.heappop(grid.heap)
                if kind == _STEP:
                    self._step_engine()
                    grid.push(t + step_ns, _STEP, None)
                elif kind == _PUSH:
                    asset, beat = payload
                    self._publish_book(asset)
                    if beat:
                        grid.push(t + round(self.latency.book_interval_s() * _NS), _PUSH, (asset, True))
                elif kind == _TIMER:
                    self._timers[payload][1]()
                    grid.push(t + periods[payload], _TIMER, payload)
                else:
                    line, item = payload
                    line.deliver(item)

    async def _book_loop(self, asset: str, offset: float) -> None:
        await trio.sleep(offset)
        while True:
            await trio.sleep(self.latency.book_interval_s())
            self._publish_book(asset)

    def _publish_book(self, asset: str) -> None:
        if not self.wire.books_flow(asset, trio.current_time()):
            return  # disconnected or stalled: this push never reaches us
        self._seq += 1
        snap = self.engine.book_snapshot(asset, trio.current_time(), self._seq)
        self._feed[asset].put(snap, self._latency(self.latency.feed_s))

    def _deliver_book(self, snap: BookSnapshot) -> None:
        if self.edge.book(snap):
            self.gateway.deliver_book(snap)

    def _depart(self, msg: Any) -> None:
        if isinstance(msg, _Reply):
            msg.done.set()
        else:
            for batch in self.wire.outbound(msg, trio.current_time()):
                checked = self.edge.batch(batch)
                if checked is not None:
                    self.gateway.deliver(checked.asset, checked)

    def _reply(self, asset: str, msgs: list[Any]) -> None:
        """Answers to one request go back as one message, like one exchange response."""
        if msgs:
            now = trio.current_time()
            extra = self.wire.extra_ack_delay(asset, now)
            self._wire_out[asset].put(VenueBatch(asset, now, tuple(msgs)), self._latency(self.latency.ack_s) + extra)

    # -- commands arriving at the matching engine -------------------------------------
    def _arrive(self, item: Any) -> None:
        try:
            self._apply(item)
        except Exception as e:  # a failed request must not kill the venue thread
            self._failed(item, e)

    def _failed(self, item: Any, e: Exception) -> None:
        """The venue failed the request: commands are answered with a reject per order or
        cancel (so nothing is left pending), queries raise at the caller."""
        now = trio.current_time()
        if isinstance(item, tuple) and item and isinstance(item[0], (PlaceOrders, CancelOrders)):
            text = f"request failed: {e}"
            rejects = [OrderReject(c.asset, o.cloid, text, now) for c in item if isinstance(c, PlaceOrders)
                       for o in c.orders]
            rejects += [OrderReject(c.asset, cl, text, now) for c in item if isinstance(c, CancelOrders)
                        for cl in c.cloids]
            self._reply(item[0].asset, rejects)
        else:
            asset, _fn, box, _forward = item
            box.error = e
            self._wire_out[asset].put(box, self._latency(self.latency.ack_s))

    def _apply(self, item: Any) -> None:
        now = trio.current_time()
        if isinstance(item, tuple) and item and isinstance(item[0], (PlaceOrders, CancelOrders)):
            answers: list[Any] = []
            for cmd in item:  # a cancel and a place sent together: applied in order
                if isinstance(cmd, PlaceOrders):
                    answers += self.engine.place(cmd.asset, cmd.orders, now)
                else:
                    answers += self.engine.cancel(cmd.asset, cmd.cloids, now)
            self._reply(item[0].asset, answers)
        else:  # a request: (asset, fn, box, forward) answered after the ack latency
            asset, fn, box, forward = item
            box.value = fn()
            if forward:  # e.g. cancel-all: the order actor hears about each cancel too
                self._reply(asset, box.value)
            self._wire_out[asset].put(box, self._latency(self.latency.ack_s))

    # -- VenueCore -------------------------------------------------------------------
    def send(self, cmds: tuple[CancelOrders | PlaceOrders, ...]) -> None:
        """Commands for one asset, sent together and applied in order."""
        self._wire_in[cmds[0].asset].put(cmds, self._latency(self.latency.order_s))

    async def _request(self, asset: str, fn: Callable[[], Any], forward: bool = False) -> Any:
        box = _Reply()
        self._wire_in[asset].put((asset, fn, box, forward), self._latency(self.latency.order_s))
        await box.done.wait()
        if box.error is not None:
            raise VenueRequestFailed(str(box.error))
        return box.value

    async def cancel_all(self, asset: str) -> int:
        cancelled = await self._request(asset, lambda: self.engine.cancel_all(asset, trio.current_time()), forward=True)
        return len(cancelled)

    async def open_orders(self, asset: str) -> tuple[OpenOrder, ...]:
        return await self._request(asset, lambda: self.engine.open_orders(asset, ts=trio.current_time()))

    async def position(self, asset: str) -> float:
        return await self._request(asset, lambda: self.engine.position(asset, ts=trio.current_time()))

    async def fills(self, asset: str, since_ts: float) -> tuple[Fill, ...]:
        return await self._request(asset, lambda: self.engine.fills(asset, since_ts, ts=trio.current_time()))

    async def schedule_cancel(self, at: float | None) -> str | None:
        """The dead-man's switch: the venue cancels every order at ``at`` unless renewed
        (``None`` clears it). Returns None if accepted, else the venue's refusal."""
        first = self.cfg.portfolio.assets[0]  # account-wide; any asset's wire carries it
        return await self._request(first, lambda: self.engine.schedule_cancel(trio.current_time(), at))

    async def snapshot(self, asset: str, since_ts: float) -> AccountSnapshot:
        def take() -> AccountSnapshot:
            e = self.engine
            now = trio.current_time()  # one request: charged (and failable) once
            return AccountSnapshot(asset, e.open_orders(asset, ts=now), e.position(asset), e.fills(asset, since_ts),
                                   cash=e.cash(asset), mid=e.mid(asset), funding=e.funding(asset),
                                   ts=trio.current_time())

        return await self._request(asset, take)

    def asset_index(self, asset: str) -> int:
        return self.engine.asset_index(asset)

    # -- wire faults (called on the trio thread) ------------------------------------------
    # -- chaos: what a real venue and feed can do besides --------------------------------------
    def inject_book(self, snap: BookSnapshot) -> None:
        """A book of the fault injector's making (NaN, crossed, stale, gapped) on the feed."""
        self._feed[snap.asset].put(snap, 0.0)

    def exchange_cancel(self, asset: str, reason: str = "marginCanceled") -> int:
        """The exchange cancels our resting orders of ``asset`` on its own (reported, not asked for)."""
        now = trio.current_time()
        gone = [msgspec.structs.replace(c, reason=reason) for c in self.engine.cancel_all(asset, now)]
        self._reply(asset, gone)
        return len(gone)

    def disconnect(self, asset: str, seconds: float) -> None:
        """Drop the asset's connection for ``seconds``; on reconnect we must reconcile."""
        self.wire.disconnect(asset, trio.current_time(), seconds)
        assert self._nursery is not None
        self._nursery.start_soon(self._reconnect_after, asset, seconds)

    async def _reconnect_after(self, asset: str, seconds: float) -> None:
        await trio.sleep(seconds)
        if self.wire.connected(asset, trio.current_time()):
            self.gateway.reconnected(asset, trio.current_time())


class _Reply:
    """A request's answer, handed back through the outbound wire (so after the ack latency)."""

    __slots__ = ("value", "done", "error")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: Exception | None = None
        self.done = trio.Event()
