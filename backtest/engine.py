"""The backtest loop: the simulated exchange and the live cores on one event clock.

Single-threaded, no actors, no wall clock. In time order it runs

- **engine steps** every ``sim.step_s``: ``SimExchange.advance(ts)``; public trades go
  straight to the asset's book core (the live book actor only updates its core with
  them), the step's fills and other venue events go back to the asset's order side as
  one batch after the ack latency;
- **book pushes** per asset every ``sim.book_interval_s``, staggered across assets as
  the live venue staggers them, reaching the book core after the feed latency;
- **supervision ticks** every ``supervision.tick_s`` (the quoters' staleness checks;
  with ``AllocationBacktest`` the meta-supervisor's money decisions);
- **messages** between the desks' cores (``backtest.desk``), as the actors tell them;
- **commands** from the order side (cancels, then placements, as one message) reaching
  the engine after the order latency, and the engine's answers coming back as one
  batch after the ack latency.

At one instant: the engine step, then the book pushes, then the tick, then every
message, delivery and command in the order it was sent: one first-in first-out order,
which the live hive follows too when it runs in lockstep (``venues.lockstep``), so
the same scenario there (zero or fixed latencies) makes the same fills
(tests/hive/test_lockstep.py).

Latencies come from the live venue's own ``venues.sim.latency.LatencyModel`` (seeded
from the run's seed, one wire per asset: an asset's latencies do not depend on the
others', so ``backtest.parallel`` can run the assets in separate processes): with
``sim.latency_profile = "fixed"`` (the default) the config's fixed order/ack/feed
latencies, ``"zero"`` none (``zero_latency`` makes such a config: the tests' default),
``"hyperliquid"`` drawn like Hyperliquid's. Each wire stays FIFO.
Each asset starts with the capital the meta-supervisor's allocator gives it at start
(equal shares, at most ``allocation.cap_pct`` of the capital each). The same config,
seed and duration give bit-identical results. A request the engine fails (an injected
fault) is answered as the live venue answers it: a reject per order and per cancel.
"""
from __future__ import annotations

from operator import attrgetter
from typing import AbstractSet, Any, Callable, Iterable

import msgspec

from backtest.clock import NS, EventQueue, Wire, to_ns
from backtest.desk import Command, Desk, VenueEvents
from backtest.record import MARKOUT_HORIZONS_S, AssetRecord, BacktestResult, FillRecord
from config import Config, ConfigError
from messages.control import Tick
from messages.market import BookSnapshot, Trade
from messages.orders import Fill, Funding, OrderAck, OrderCancelled, OrderReject
from strategy.order_actions import OrderAction, order_actions
from supervisor.allocation import Allocator
from venues.sim.engine import ERR_ADDRESS_BUDGET, ERR_ALO, SimExchange

# event kinds (and their priority at one instant)
STEP, PUSH, TICK, BOOK, ARRIVE, REPLY, MSG = range(7)
_PRIO = {STEP: 0, PUSH: 1, TICK: 2, BOOK: 3, ARRIVE: 3, REPLY: 3, MSG: 3}
SAMPLE_S = 1.0  # equity and inventory are sampled once per simulated second
_PX = attrgetter("px")
_NO_LEVELS: tuple[AbstractSet, AbstractSet] = (frozenset(), frozenset())
_NEVER = 1 << 62  # ns


def select_assets(cfg: Config, assets: Iterable[str] | None) -> Config:
    """The config restricted to ``assets`` (in the given order); None keeps them all."""
    if assets is None:
        return cfg
    names = tuple(a.strip().upper() for a in assets if a.strip())
    unknown = [a for a in names if a not in cfg.assets]
    if not names or unknown:
        raise ConfigError(f"assets = {list(names)}: unknown {unknown or 'none given'}; have {sorted(cfg.assets)}")
    return msgspec.structs.replace(cfg, portfolio=msgspec.structs.replace(cfg.portfolio, assets=names))


def zero_latency(cfg: Config) -> Config:
    """The same config with an instantaneous wire (what the tests use)."""
    sim = msgspec.structs.replace(cfg.sim, latency_profile="zero", order_latency_ms=0.0, ack_latency_ms=0.0,
                                  feed_latency_ms=0.0)
    return msgspec.structs.replace(cfg, sim=sim)


def latency_summary(cfg: Config) -> dict[str, Any]:
    """The wire as the report states it: the profile and its fixed one-way latencies in
    ms (None for the random "hyperliquid" profile)."""
    s = cfg.sim
    profile = s.latency_profile
    if profile == "zero":
        return {"profile": profile, "order_ms": 0.0, "ack_ms": 0.0, "feed_ms": 0.0}
    if profile == "fixed":
        return {"profile": profile, "order_ms": s.order_latency_ms, "ack_ms": s.ack_latency_ms,
                "feed_ms": s.feed_latency_ms}
    return {"profile": profile, "order_ms": None, "ack_ms": None, "feed_ms": None}


class _FixedLatency:
    """The latency model's interface with the config's fixed figures (if the venue's own
    ``LatencyModel`` is not available)."""

    def __init__(self, cfg: Config) -> None:
        s = cfg.sim
        ms = (0.0, 0.0, 0.0) if s.latency_profile == "zero" else (s.order_latency_ms, s.ack_latency_ms,
                                                                  s.feed_latency_ms)
        self._o, self._a, self._f = (x / 1e3 for x in ms)
        self._i = s.book_interval_s

    def order_s(self) -> float:
        return self._o

    def ack_s(self) -> float:
        return self._a

    def feed_s(self) -> float:
        return self._f

    def book_interval_s(self) -> float:
        return self._i


def _latency_model(cfg: Config, seed: int, stream: int = 0) -> Any:
    try:
        from venues.sim.latency import LatencyModel
    except ImportError:
        return _FixedLatency(cfg)
    return LatencyModel(cfg.sim, seed, stream)


def _only(portfolio: tuple[str, ...], only: Iterable[str]) -> tuple[str, ...]:
    """``only``'s assets in the portfolio's order; an unknown or empty list is an error."""
    names = {a.strip().upper() for a in only if a.strip()}
    unknown = sorted(names - set(portfolio))
    if not names or unknown:
        raise ConfigError(f"only = {sorted(names)}: unknown {unknown or 'none given'}; have {list(portfolio)}")
    return tuple(a for a in portfolio if a in names)


ALO_REJECT = ERR_ALO.split("{")[0]
BUDGET_REJECT = ERR_ADDRESS_BUDGET.split("(")[0]


def _count_reason(rec: AssetRecord, reason: str) -> None:
    """Why a placement was refused, by the venue's own texts (venues/sim/engine.py)."""
    if reason.startswith(ALO_REJECT):
        rec.alo_rejects += 1
    elif reason.startswith(BUDGET_REJECT):
        rec.budget_rejects += 1


class Backtest:
    # books pushed every sim.book_interval_s; a subclass whose market says when its books
    # change (a replay) turns this off and pushes them itself
    timed_pushes = True
    # the order-book market's makers compiled (same results; a few seconds to compile,
    # then faster): off for a subclass whose markets are not simulated
    compiled_market = True

    def __init__(self, cfg: Config, *, seed: int | None = None, assets: Iterable[str] | None = None,
                 only: Iterable[str] | None = None) -> None:
        """``assets``: the config restricted to these (a smaller portfolio). ``only``: run just
        these of the portfolio's assets, each exactly as it runs in the whole backtest (its
        market, wire, push beat and capital are the whole's): one process's share of a
        parallel backtest (``backtest/parallel.py``)."""
        self.cfg = select_assets(cfg, assets)
        self.seed = cfg.run.seed if seed is None else int(seed)
        self.portfolio = tuple(self.cfg.portfolio.assets)
        self.assets = self.portfolio if only is None else _only(self.portfolio, only)
        self.sim = SimExchange(self.cfg, self.seed, compiled=self.compiled_market,
                               only=None if only is None else self.assets)
        self.sim.fill_takers = {}  # the report breaks our fills down by the taker that made them
        capital = start_capital(self.cfg, self.portfolio)
        self.capital = {a: capital[a] for a in self.assets}
        self._t = 0  # the instant being run (ns)
        self.desks = {a: Desk(self.cfg, a, self.sim.asset_index(a), self.capital[a], post=self._post,
                              send=self._send_one) for a in self.assets}
        self.records = {a: AssetRecord(a, self.capital[a]) for a in self.assets}
        self._szd = {a: self.sim.sz_decimals(a) for a in self.assets}
        self.latency = latency_summary(self.cfg)
        # each asset has its own wire, so its latencies do not depend on the other assets
        lm = self._lm = {a: _latency_model(self.cfg, self.sim.seed, self.sim.asset_index(a)) for a in self.assets}
        q = self.queue = EventQueue(last_prio=max(_PRIO.values()))
        self._to_venue = {a: Wire(q, lm[a].order_s, _PRIO[ARRIVE], ARRIVE) for a in self.assets}
        self._to_us = {a: Wire(q, lm[a].ack_s, _PRIO[REPLY], REPLY) for a in self.assets}
        self._feed = {a: Wire(q, lm[a].feed_s, _PRIO[BOOK], BOOK) for a in self.assets}
        self._step_ns = to_ns(self.cfg.sim.step_s)
        self._tick_ns = to_ns(self.cfg.supervision.tick_s)
        self._book_ns = to_ns(self.cfg.sim.book_interval_s)
        self._horizons = [(h, to_ns(h)) for h in MARKOUT_HORIZONS_S]
        self._first_horizon_ns = min(h_ns for _, h_ns in self._horizons)
        # per asset, when the next pending markout falls due (never: nothing pending)
        self._markout_due = {a: _NEVER for a in self.assets}
        self._book_seq = 0
        self._steps = 0
        # per asset, the last snapshot the book core received, per side: (its levels, its prices)
        self._seen: dict[str, tuple[tuple[AbstractSet, AbstractSet], tuple[AbstractSet, AbstractSet]]] = {
            a: (_NO_LEVELS, _NO_LEVELS) for a in self.assets}
        self._sample_ts: list[float] = []
        self._next_sample = 0
        self._ran = False
        self.order_log: list[tuple[float, str, OrderAction]] | None = None  # keep_orders() turns it on
        self.progress: Callable[[float], None] | None = None  # told the simulated time once a second

    def keep_orders(self) -> "Backtest":
        """Keep every order action and answer (``result.orders``), for the journal."""
        self.order_log = []
        return self

    # -- the loop -------------------------------------------------------------------------
    def run(self, duration_s: float) -> BacktestResult:
        """Run ``duration_s`` simulated seconds from t = 0 (once per Backtest)."""
        if self._ran:
            raise RuntimeError("a Backtest runs once; make a new one")
        if not duration_s > 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s}")
        self._ran = True
        end = to_ns(duration_s)
        q = self.queue
        n = len(self.portfolio)
        self.sim.advance(0.0)
        self._sample(0)
        for a in self.assets:
            self.desks[a].start()
        while len(q):  # start-up settles before the first books (the live hive: before time starts)
            self._dispatch(*q.pop()[3:])
        for a in self.assets:
            i = self.portfolio.index(a)
            self._push_book(a, 0)  # the venue's first push, at start
            if self.timed_pushes:
                # each coin's l2Book pushes on its own beat: offset i/n of the interval
                q.push(i * self._book_ns // n + self._book_ns, _PRIO[PUSH], PUSH, a)
        q.push(self._step_ns, _PRIO[STEP], STEP, 1)
        q.push(self._tick_ns, _PRIO[TICK], TICK, None)
        pop_due, dispatch = q.pop_due, self._dispatch
        while (ev := pop_due(end)) is not None:
            self._t = ev[0]
            dispatch(ev[3], ev[4])
        if not self._sample_ts or self._sample_ts[-1] < duration_s:
            self._sample(end)
        return self._result(duration_s)

    # -- handlers -------------------------------------------------------------------------
    def _dispatch(self, kind: int, payload: Any) -> None:
        t = self._t
        if kind == MSG:
            asset, role, msg = payload
            self._deliver(asset, role, msg)
        elif kind == STEP:
            self._step(t, payload)
        elif kind == BOOK:
            self._count_book(payload)
            self.desks[payload.asset].handle("book", payload)
        elif kind == REPLY:
            asset, events = payload
            if self.order_log is not None:
                self._log_answers(t / NS, asset, events)
            self.desks[asset].handle("order", VenueEvents(events))
        elif kind == ARRIVE:
            self._arrive(t, *payload)
        elif kind == PUSH:
            self._push_book(payload, t)
            self.queue.push(t + to_ns(self._lm[payload].book_interval_s()), _PRIO[PUSH], PUSH, payload)
        elif kind == TICK:
            self._tick(t)
            self.queue.push(t + self._tick_ns, _PRIO[TICK], TICK, None)

    def _post(self, asset: str, role: str, msg: Any) -> None:
        """A tell between actors: queued behind everything sent before it, this instant."""
        self.queue.push(self._t, _PRIO[MSG], MSG, (asset, role, msg))

    def _deliver(self, asset: str, role: str, msg: Any) -> None:
        self.desks[asset].handle(role, msg)

    def _tick(self, t: int) -> None:
        """The supervision timer: each asset supervisor passes it on (staleness checks)."""
        tick = Tick(t / NS)
        for a in self.assets:
            self._post(a, "sup", tick)

    def _step(self, t: int, j: int) -> None:
        ts = t / NS
        sim, records, desks = self.sim, self.records, self.desks
        self._steps += 1
        batches: dict[str, list[Any]] = {}
        for ev in sim.advance(ts):
            if type(ev) is Trade:
                records[ev.asset].trade_events += 1
                desks[ev.asset].on_trade(ev)
                continue
            asset = getattr(ev, "asset", None)
            if asset not in records:
                continue  # nothing we can route
            if type(ev) is Fill:
                self._record_fill(t, ev)
            elif isinstance(ev, Funding):  # booked to the venue's cash, so to ours
                rec = records[asset]
                rec.funding += ev.usd
                rec.cash += ev.usd
                rec.funding_events += 1
            elif not isinstance(ev, (OrderCancelled, OrderReject, OrderAck)):
                records[asset].other_events[type(ev).__name__] += 1  # passed on; the desk ignores it
            batches.setdefault(asset, []).append(ev)
        for asset, evs in batches.items():
            self._to_us[asset].send(t, (asset, tuple(evs)))
        due = self._markout_due
        for a in self.assets:
            if t >= due[a]:  # a pending markout falls due
                rec = records[a]
                self._resolve_markouts(rec, t, sim.mid(a))
                due[a] = min((dq[0][0] for dq in rec.pending.values() if dq), default=_NEVER)
        if t >= self._next_sample:
            self._sample(t)
        self.queue.push(t + self._step_ns, _PRIO[STEP], STEP, j + 1)

    def _count_book(self, snap: BookSnapshot) -> None:
        """A snapshot reaches the book core: one book event, and one level event per price
        level, per side, that appeared, disappeared or changed size since the asset's
        previous snapshot (hftbacktest's depth events; the first snapshot counts all)."""
        rec = self.records[snap.asset]
        rec.book_events += 1
        (bid_lv, bid_px), (ask_lv, ask_px) = self._seen[snap.asset]
        bids, asks = set(snap.bids), set(snap.asks)  # Level is frozen: (px, sz) by value
        bpx, apx = set(map(_PX, snap.bids)), set(map(_PX, snap.asks))
        rec.level_events += len(bids - bid_lv) + len(bid_px - bpx) + len(asks - ask_lv) + len(ask_px - apx)
        self._seen[snap.asset] = ((bids, bpx), (asks, apx))

    def _push_book(self, asset: str, t: int) -> None:
        self._book_seq += 1
        snap = self.sim.book_snapshot(asset, t / NS, self._book_seq)
        self._feed[asset].send(t, snap)

    def _send_one(self, asset: str, cmd: Command) -> None:
        """The order side hands the gateway a command: onto the wire to the venue."""
        rec = self.records[asset]
        rec.orders_sent += len(cmd.places)
        rec.cancels_sent += len(cmd.cancels)
        if self.order_log is not None:
            ts, live = self._t / NS, self.desks[asset].order.tracker.live
            self.order_log += [(ts, asset, a) for a in order_actions(cmd.cancels, cmd.places, live)]
        self._to_venue[asset].send(self._t, (asset, cmd))

    def _log_answers(self, ts: float, asset: str, events: tuple[Any, ...]) -> None:
        """The venue's answers as they reach the order side (so their latency is the
        round trip, as the live journal's)."""
        keep = self.order_log
        if keep is None:
            return
        for ev in events:
            k = type(ev)
            if k is OrderAck:
                keep.append((ts, asset, OrderAction("ack", ev.cloid)))
            elif k is OrderReject:
                keep.append((ts, asset, OrderAction("reject", ev.cloid, text=ev.reason)))
            elif k is OrderCancelled:
                keep.append((ts, asset, OrderAction("cancelled", ev.cloid, text=ev.reason)))

    def _arrive(self, t: int, asset: str, cmd: Command) -> None:
        """A command reaches the matching engine: cancels, then placements, one answer."""
        ts = t / NS
        rec = self.records[asset]
        answers: list[Any] = []
        try:
            if cmd.cancels:
                out = self.sim.cancel(asset, cmd.cancels, ts)
                for a in out:
                    if type(a) is OrderReject:
                        if "already canceled" in a.reason:
                            rec.cancel_misses += 1
                        else:
                            rec.cancel_rejects += 1
                answers += out
            if cmd.places:
                out = self.sim.place(asset, cmd.places, ts)
                for a in out:
                    if type(a) is OrderAck:
                        rec.acks += 1
                    elif type(a) is OrderReject:
                        rec.rejects += 1
                        _count_reason(rec, a.reason)
                    elif type(a) is Fill:  # an IOC's (the emergency unwind): it took liquidity
                        self._record_fill(t, a)
                        rec.ioc_fills += 1
                answers += out
        except Exception as e:  # as the live venue: the request failed
            text = f"request failed: {e}"
            answers = [OrderReject(asset, o.cloid, text, ts) for o in cmd.places]
            answers += [OrderReject(asset, c, text, ts) for c in cmd.cancels]
            rec.failed_requests += 1
            rec.rejects += len(cmd.places)  # acks of this request's part that did apply are
            rec.cancel_rejects += len(cmd.cancels)  # lost with it, as on the live venue
        if answers:
            self._to_us[asset].send(t, (asset, tuple(answers)))

    # -- recording ------------------------------------------------------------------------
    def _record_fill(self, t: int, f: Fill) -> None:
        rec = self.records[f.asset]
        mid = self.sim.mid(f.asset)
        takers = self.sim.fill_takers
        rec.fills.append(FillRecord(f.ts, f.side, f.px, f.sz, f.fee, mid, takers.pop(f.tid, "") if takers else ""))
        notional = f.px * f.sz
        if f.side == "B":
            rec.cash -= notional + f.fee
            rec.position = round(rec.position + f.sz, self._szd[f.asset])
            sign = 1.0
        else:
            rec.cash += notional - f.fee
            rec.position = round(rec.position - f.sz, self._szd[f.asset])
            sign = -1.0
        for h, h_ns in self._horizons:
            rec.pending[h].append((t + h_ns, sign, mid))
        self._markout_due[f.asset] = min(self._markout_due[f.asset], t + self._first_horizon_ns)

    @staticmethod
    def _resolve_markouts(rec: AssetRecord, t: int, mid: float) -> None:
        for h, dq in rec.pending.items():
            while dq and dq[0][0] <= t:
                _, sign, mid0 = dq.popleft()
                rec.markout_sum[h] += sign * (mid - mid0) / mid0 * 1e4
                rec.markout_n[h] += 1

    def _sample(self, t: int) -> None:
        self._sample_ts.append(t / NS)
        if self.progress is not None:
            self.progress(t / NS)
        for a in self.assets:
            rec = self.records[a]
            mid = self.sim.mid(a)
            inv = rec.position * mid
            rec.inventory_usd.append(inv)
            rec.equity.append(rec.cash + inv)
        self._next_sample = (t // to_ns(SAMPLE_S) + 1) * to_ns(SAMPLE_S)

    def _result(self, duration_s: float) -> BacktestResult:
        for a in self.assets:
            rec, desk = self.records[a], self.desks[a]
            rec.final_mid = self.sim.mid(a)
            rec.engine_cash = self.sim.cash(a)
            rec.engine_position = self.sim.position(a)
            rec.engine_pnl = self.sim.pnl(a)
            rec.risk_net_pnl = desk.risk.net_pnl
            rec.risk_fills = desk.risk.fills_buy + desk.risk.fills_sell
            rec.risk_position = desk.risk.position
            rec.stalls = desk.stalls
            rec.sweeps = desk.sweeps
        return BacktestResult(seed=self.seed, duration_s=float(duration_s), assets=self.assets,
                              capital_usd=self.cfg.portfolio.capital_usd, latency=dict(self.latency),
                              sample_ts=self._sample_ts, records=self.records, steps=self._steps,
                              orders=self.order_log or [])


def start_capital(cfg: Config, assets: Iterable[str]) -> dict[str, float]:
    """What each asset starts with: the meta-supervisor's first allocation."""
    alloc = Allocator.for_config(cfg, assets)
    return {a: b.capital for a, b in alloc.books.items()}


def run_backtest(cfg: Config, *, duration_s: float, seed: int | None = None,
                 assets: Iterable[str] | None = None) -> BacktestResult:
    """One deterministic backtest: same config, seed and duration → identical result."""
    return Backtest(cfg, seed=seed, assets=assets).run(duration_s)
