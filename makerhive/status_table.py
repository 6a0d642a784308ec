"""``makerhive status`` for a person: the running hive's answer as a table.

The control socket answers JSON (``makerhive status --json`` prints it as is, for
scripts); this turns it into the few columns a trader checks first.
"""
from __future__ import annotations

import math
from typing import Any, Literal

from rich.table import Table

Justify = Literal["left", "right"]
COLUMNS: tuple[tuple[str, Justify], ...] = (("asset", "left"), ("phase", "left"), ("net PnL", "right"), ("inventory $", "right"),
           ("limit $", "right"), ("bid", "right"), ("ask", "right"), ("spread bp", "right"),
           ("open", "right"), ("fills", "right"), ("capital", "right"), ("restarts", "right"), ("guard", "left"))


def _num(v: Any, fmt: str) -> str:
    """A number from the answer, or '-' where it is missing, zero-as-none or not finite."""
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        return "-"
    return format(v, fmt)


def render(answer: dict) -> Table:
    """The status answer (``Hive.command(["status"])``) as a table; older hives that
    answer fewer keys show '-' for the rest."""
    assets = answer.get("assets") or {}
    total = sum(a.get("net_pnl", 0.0) for a in assets.values() if isinstance(a.get("net_pnl"), (int, float))
                and math.isfinite(a["net_pnl"]))
    title = f"{answer.get('venue', 'hive')} · t={_num(answer.get('sim_time_s'), ',.0f')} s · net PnL {total:+,.2f}"
    t = Table(title=title, title_justify="left", caption=answer.get("journal") and f"journal: {answer['journal']}",
              caption_justify="left")
    for name, justify in COLUMNS:
        # one line per asset: a long guard note is cut (the view and the events show it whole)
        t.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis", max_width=40 if name == "guard" else None)
    for asset, a in assets.items():
        bid, ask = a.get("our_bid") or None, a.get("our_ask") or None
        t.add_row(asset, str(a.get("phase", "")), _num(a.get("net_pnl"), "+,.2f"), _num(a.get("inventory_usd"), "+,.0f"),
                  _num(a.get("limit_usd"), ",.0f"), _num(bid, ".6g"), _num(ask, ".6g"),
                  _num(a.get("own_spread_bp"), ".1f"), _num(a.get("open_orders"), "d"), _num(a.get("fills"), "d"),
                  _num(a.get("capital"), ",.0f"), _num(a.get("restarts"), "d"), str(a.get("guard") or ""))
    return t
