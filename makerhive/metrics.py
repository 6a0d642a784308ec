"""Opt-in Prometheus metrics (``run --metrics-port N``): /metrics on 127.0.0.1 by default.

Pulled, not pushed: a scrape reads the status board's latest published state (the same
immutable rows the live view shows), so trading pays nothing for it. Only the order
ack latency is observed as it happens, by the journal's writer thread (off the hot path).
Every name starts with ``makerhive_``; deploy/grafana-dashboard.json charts them.
"""
from __future__ import annotations

import math
import typing
from typing import Any, Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import start_http_server

from messages.control import AssetPhase

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PHASES = typing.get_args(AssetPhase)


def _finite(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


class BoardCollector:
    """Reads the hive's board (and gateway, journal) at every scrape."""

    def __init__(self, hive: Any) -> None:
        self.hive = hive

    def collect(self) -> Iterable[Any]:
        hive = self.hive
        snap = hive.snapshot()
        g = {name: GaugeMetricFamily(f"makerhive_{name}", doc, labels=["asset"]) for name, doc in (
            ("net_pnl_usd", "net PnL: realized + unrealized - fees + funding"),
            ("realized_pnl_usd", "realized PnL"), ("unrealized_pnl_usd", "unrealized PnL at the mid"),
            ("fees_usd", "fees paid (negative: rebates)"), ("funding_usd", "funding received (+) or paid (-)"),
            ("inventory", "position, signed units"), ("inventory_usd", "position x mid"),
            ("inventory_limit_usd", "the position limit in force"), ("mid_px", "the book's mid"),
            ("quote_bid_px", "our best bid (0: none)"), ("quote_ask_px", "our best ask (0: none)"),
            ("quote_spread_bp", "our best ask over our best bid, bp of the mid (NaN: one side or none)"),
            ("open_orders", "our orders resting on the venue"), ("capital_usd", "capital allocated"),
            ("halted", "1 while a risk breaker halts the asset"))}
        fills = CounterMetricFamily("makerhive_fills", "our fills", labels=["asset", "side"])
        restarts = CounterMetricFamily("makerhive_restarts", "asset tree restarts", labels=["asset"])
        phase = GaugeMetricFamily("makerhive_asset_phase", "1 for the phase the asset is in",
                                  labels=["asset", "phase"])
        for r in snap.assets:
            a = r.asset
            spread = ((r.our_ask - r.our_bid) / r.mid * 1e4
                      if r.our_bid > 0 and r.our_ask > 0 and r.mid > 0 else math.nan)
            for name, v in (("net_pnl_usd", r.net_pnl), ("realized_pnl_usd", r.realized_pnl),
                            ("unrealized_pnl_usd", r.unrealized_pnl), ("fees_usd", r.fees),
                            ("funding_usd", r.funding), ("inventory", r.inventory),
                            ("inventory_usd", r.inventory_usd), ("inventory_limit_usd", r.limit_usd),
                            ("mid_px", r.mid), ("quote_bid_px", r.our_bid), ("quote_ask_px", r.our_ask),
                            ("quote_spread_bp", spread), ("open_orders", r.open_orders),
                            ("capital_usd", r.capital), ("halted", 1.0 if r.phase == "halted" else 0.0)):
                g[name].add_metric([a], _finite(v))
            fills.add_metric([a, "buy"], r.fills_buy)
            fills.add_metric([a, "sell"], r.fills_sell)
            restarts.add_metric([a], r.restarts)
            for p in dict.fromkeys((*PHASES, r.phase)):
                phase.add_metric([a, p], 1.0 if p == r.phase else 0.0)
        yield from g.values()
        yield from (fills, restarts, phase)
        yield GaugeMetricFamily("makerhive_portfolio_net_pnl_usd", "net PnL of every asset", value=snap.portfolio_pnl)
        port = snap.portfolio
        yield GaugeMetricFamily("makerhive_portfolio_halted", "1 while the portfolio drawdown stop holds",
                                value=1.0 if port is not None and port.halted else 0.0)
        if port is not None:
            yield GaugeMetricFamily("makerhive_portfolio_drawdown", "portfolio drawdown (fraction)",
                                    value=_finite(port.drawdown))
            yield GaugeMetricFamily("makerhive_portfolio_exposure_usd", "gross exposure", value=_finite(port.exposure_usd))
        counters = dict(hive.board.counters)
        yield CounterMetricFamily("makerhive_rejects", "orders the venue refused", value=counters.get("rejects", 0))
        events = CounterMetricFamily("makerhive_events", "events by kind (restart, halt, guard, ...)", labels=["kind"])
        for kind, n in sorted(counters.items()):
            if kind != "rejects":
                events.add_metric([kind], n)
        yield events
        yield GaugeMetricFamily("makerhive_budget_share_left", "share of the address action budget left",
                                value=_finite(hive.gateway.budget_share_left()))
        venue = GaugeMetricFamily("makerhive_venue_status", "the venue's numeric status (budgets, reconnects, fees)",
                                  labels=["key"])
        for k, v in sorted(snap.venue_status.items()):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                venue.add_metric([k], float(v))
        yield venue
        yield GaugeMetricFamily("makerhive_sim_time_seconds", "the runtime clock", value=snap.sim_time_s)
        journal = hive.journal
        if journal is not None:
            yield CounterMetricFamily("makerhive_journal_dropped_rows", "journal rows dropped (queue full)",
                                      value=journal.dropped)


class Metrics:
    """The /metrics endpoint of one hive."""

    def __init__(self, hive: Any, port: int, host: str = "127.0.0.1") -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(BoardCollector(hive))
        self.ack_latency = Histogram("makerhive_order_ack_latency_seconds",
                                     "placement to the venue's ack or reject (runtime clock)", ["asset"],
                                     buckets=LATENCY_BUCKETS_S, registry=self.registry)
        if hive.journal is not None:
            hive.journal.latency_observers.append(self.observe_latency)
        self.host, self.port = host, port
        self._server: Any = None

    def observe_latency(self, asset: str, seconds: float) -> None:
        if seconds == seconds and seconds >= 0:
            self.ack_latency.labels(asset).observe(seconds)

    def start(self) -> int:
        """Serve; returns the port (useful with port 0)."""
        self._server, _ = start_http_server(self.port, addr=self.host, registry=self.registry)
        self.port = self._server.server_port
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
