"""The end-of-run summary: per-asset and portfolio figures, as JSON and as a table.

Other tools read the JSON: its documented keys are a contract (add, never rename).
Unrealized PnL is marked at the venue's final mid, so that the risk actors' accounting
and the venue's own (cash + position x mid) can be compared to the cent.

Allocation, per asset: ``capital_start``, ``capital_min``, ``capital_end`` (the capital it
traded with: its base, plus its own PnL in compound mode), ``score_end`` (None: too little
data), ``zone_end`` and ``reallocations`` (how often the supervisor moved its capital);
``limit_excess_usd`` is the most a fill ever took |inventory| past the limit in force.
``open_orders_at_exit`` is -1 for an asset whose venue did not answer at exit; the
portfolio's counts the known ones and names the others in ``open_orders_unconfirmed``.
"""
from __future__ import annotations

from typing import Any

from config import Config
from actors.status import StatusBoard


def build_summary(cfg: Config, board: StatusBoard, venue: dict[str, dict[str, float]],
                  allocation: dict[str, float], *, sim_seconds: float, wall_seconds: float,
                  fenced: dict[str, int] | None = None) -> dict[str, Any]:
    assets: dict[str, Any] = {}
    rows = {x.asset: x for x in board.allocation_rows}
    for a in cfg.portfolio.assets:
        r = board.risk.get(a)
        al = rows.get(a)
        cap = allocation.get(a, 0.0)
        v = venue.get(a, {})
        mid = v.get("mid") if v.get("mid") == v.get("mid") and v.get("mid") else (r.mid if r else 0.0)
        position = r.position if r else 0.0
        avg = r.avg_entry if r else 0.0
        realized = r.realized_pnl if r else 0.0
        fees = r.fees if r else 0.0
        funding = r.funding if r else 0.0
        unrealized = position * (mid - avg) if position else 0.0
        limit = r.limit_usd if r else 0.0
        assets[a] = {
            "fills_buy": r.fills_buy if r else 0,
            "fills_sell": r.fills_sell if r else 0,
            "volume_usd": round(r.volume_usd if r else 0.0, 2),
            "realized_pnl": round(realized, 6),
            "unrealized_pnl": round(unrealized, 6),
            "fees": round(fees, 6),
            "funding": round(funding, 6),
            "net_pnl": round(realized + unrealized - fees + funding, 6),
            "inventory": position,
            "max_abs_inventory_usd": round(r.max_abs_inventory_usd if r else 0.0, 2),
            "limit_usd": round(limit, 2),
            "restarts": board.restarts.get(a, 0),
            "open_orders_at_exit": int(v.get("open_orders", 0)),
            "capital": round(allocation.get(a, 0.0), 2),
            "venue_position": v.get("position", 0.0),
            "venue_pnl": round(v.get("pnl", 0.0), 6),
            "venue_mid": mid,  # the mark of unrealized PnL and of venue_pnl
            "fenced_commands": (fenced or {}).get(a, 0),
            "limit_excess_usd": round(r.max_limit_excess_usd if r else 0.0, 2),
            "capital_start": round(al.capital_start if al else cap, 2),
            "capital_min": round(al.capital_min if al else cap, 2),
            "capital_end": round(al.capital if al else cap, 2),
            "score_end": round(al.score, 4) if al is not None and al.score is not None else None,
            "zone_end": al.zone if al else "hold",
            "reallocations": al.reallocations if al else 0,
        }
    return {
        "assets": assets,
        "portfolio": {
            "capital": round(cfg.portfolio.capital_usd, 2),
            "net_pnl": round(sum(x["net_pnl"] for x in assets.values()), 6),
            "open_orders_at_exit": sum(max(0, x["open_orders_at_exit"]) for x in assets.values()),
            # assets whose venue did not answer at exit (-1 above): nobody knows what is open there
            "open_orders_unconfirmed": [a for a, x in assets.items() if x["open_orders_at_exit"] < 0],
            "fills": sum(x["fills_buy"] + x["fills_sell"] for x in assets.values()),
            "restarts": sum(x["restarts"] for x in assets.values()),
            "sim_seconds": round(sim_seconds, 3),
            "wall_seconds": round(wall_seconds, 3),
            "events": dict(board.counters),
            "allocated": round(sum(x["capital"] for x in assets.values()), 2),
            "halted": bool(board.portfolio_row.halted) if board.portfolio_row else False,
        },
    }


_COLUMNS = (  # (header, cell, which table when split: "pnl" or "risk")
    ("fills b/s", lambda x: f"{x['fills_buy']}/{x['fills_sell']}", "pnl"),
    ("volume $", lambda x: f"{x['volume_usd']:,.0f}", "pnl"),
    ("realized", lambda x: f"{x['realized_pnl']:,.2f}", "pnl"),
    ("unrealized", lambda x: f"{x['unrealized_pnl']:,.2f}", "pnl"),
    ("fees", lambda x: f"{x['fees']:,.2f}", "pnl"),
    ("net", lambda x: f"{x['net_pnl']:,.2f}", "pnl"),
    ("inventory", lambda x: f"{x['inventory']:g}", "risk"),
    ("max |inv| $", lambda x: f"{x['max_abs_inventory_usd']:,.0f}", "risk"),
    ("limit $", lambda x: f"{x['limit_usd']:,.0f}", "risk"),
    ("capital $", lambda x: f"{x['capital_end']:,.0f}", "risk"),
    ("zone", lambda x: str(x["zone_end"]), "risk"),
    ("restarts", lambda x: str(x["restarts"]), "risk"),
    ("open at exit", lambda x: str(x["open_orders_at_exit"]), "risk"),
)


_SHORT = {"fills b/s": "b/s", "volume $": "volume", "unrealized": "unreal", "inventory": "inv",
          "max |inv| $": "max|inv|", "limit $": "limit", "capital $": "capital", "restarts": "rst",
          "open at exit": "open"}


def _table(summary: dict[str, Any], part: str | None, title: str):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    cols = [c for c in _COLUMNS if part is None or c[2] == part]
    t.add_column("asset", no_wrap=True)
    for name, _, _ in cols:
        t.add_column(_SHORT.get(name, name) if part else name, justify="right", no_wrap=True)
    for a, x in summary["assets"].items():
        t.add_row(a, *(cell(x) for _, cell, _ in cols))
    return t


def _caption(summary: dict[str, Any]) -> str:
    p = summary["portfolio"]
    text = (f"portfolio: capital ${p['capital']:,.0f}  net PnL ${p['net_pnl']:,.2f}  "
            f"open orders at exit {p['open_orders_at_exit']}  "
            f"{p['sim_seconds']:.0f} simulated s in {p['wall_seconds']:.0f} s")
    if p.get("journal"):
        text += f"\njournal: {p['journal']}  (makerhive history / report --journal PATH)"
    return text


class _Summary:
    """The summary table as wide as the console allows: one table when it fits, else a
    PnL table and a risk table, so no cell is ever cut (a terminal, or a pipe at 140)."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary

    def __rich_console__(self, console, options):
        from rich.measure import Measurement
        from rich.text import Text

        whole = _table(self.summary, None, "makerhive summary")
        if Measurement.get(console, options.update(max_width=10_000), whole).maximum <= options.max_width:
            yield whole
        else:
            yield _table(self.summary, "pnl", "makerhive summary: PnL")
            yield _table(self.summary, "risk", "makerhive summary: risk")
        yield Text(_caption(self.summary))


def summary_table(summary: dict[str, Any]):
    return _Summary(summary)
