"""The exit summary: never a cut cell, in a terminal of any width or piped; it says
where the journal is."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from actors.status import StatusBoard
from makerhive.summary import build_summary, summary_table
from tests.hive_helpers import sim_config

ASSETS = ("BTC", "ETH", "SOL", "XRP", "HYPE")


def _summary() -> dict:
    assets = {a: {"fills_buy": 123 + i, "fills_sell": 98, "volume_usd": 1234567.0, "realized_pnl": -1234.56,
                  "unrealized_pnl": 234.5, "fees": 345.67, "net_pnl": -1345.73 - i, "inventory": -0.03154,
                  "max_abs_inventory_usd": 4999.0, "limit_usd": 5000.0, "capital_end": 20000.0,
                  "zone_end": "punish", "restarts": 2, "open_orders_at_exit": 0} for i, a in enumerate(ASSETS)}
    return {"assets": assets, "portfolio": {"capital": 100000.0, "net_pnl": -6738.65, "open_orders_at_exit": 0,
                                            "sim_seconds": 3600.0, "wall_seconds": 180.0,
                                            "journal": "/srv/makerhive/runs/journal.sqlite"}}


@pytest.mark.parametrize("width", [200, 140, 100, 80])
def test_the_summary_fits_the_width_without_cutting_a_cell(width):
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(summary_table(_summary()))
    text = console.export_text()
    assert "…" not in text and all(len(line) <= width for line in text.splitlines())
    assert "makerhive summary" in text
    for i, a in enumerate(ASSETS):
        assert a in text and f"{-1345.73 - i:,.2f}" in text and "123" in text
    for header in ("net", "fees", "limit", "open"):
        assert header in text
    assert "journal: /srv/makerhive/runs/journal.sqlite" in text
    assert ("makerhive summary: PnL" in text) == (width < 160)  # split in two where one would not fit


def test_an_asset_whose_venue_did_not_answer_at_exit_is_named_not_counted_as_minus_one():
    """-1 is "unknown" for one asset; summed, two of them read "-2 orders open"."""
    cfg = sim_config()
    board = StatusBoard(cfg.portfolio.assets)
    venue = {a: {"open_orders": n} for a, n in zip(cfg.portfolio.assets, (0, -1, 2, -1, 0))}
    summary = build_summary(cfg, board, venue, {}, sim_seconds=1.0, wall_seconds=1.0)
    assert summary["assets"]["ETH"]["open_orders_at_exit"] == -1
    assert summary["portfolio"]["open_orders_at_exit"] == 2
    assert summary["portfolio"]["open_orders_unconfirmed"] == ["ETH", "XRP"]
