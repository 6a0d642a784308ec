"""The live view on a real-looking desk keeps each line whole at 160x45, 100x30 and 80x24:
the budgets line with the dead-man's switch, and each asset's allocation row."""
from __future__ import annotations

import io

import msgspec
import pytest
from rich.console import Console

from makerhive.view import render
from tests.app.test_view import desk_snapshot


def _text(snap, width: int, height: int) -> list[str]:
    console = Console(record=True, width=width, height=height, file=io.StringIO(), color_system=None)
    console.print(render(snap))
    return console.export_text().splitlines()


@pytest.mark.parametrize("width, height", [(160, 45), (100, 30), (80, 24)])
def test_budgets_and_the_dead_mans_switch_stay_on_one_line(width, height):
    snap = desk_snapshot()
    vs = {**snap.venue_status, "dms_at": 130.0, "now": 120.0, "dms_actions_per_day": 17280}
    lines = _text(msgspec.structs.replace(snap, venue_status=vs), width, height)
    assert len(lines) <= height and all(len(line) <= width for line in lines)
    budget = next(line for line in lines if "9,120/10,000" in line)
    assert "dead-man's switch in 10s" in budget  # on the budgets' line, not wrapped below it
    assert not any(line.strip().startswith("actions/day") for line in lines)


def test_each_assets_allocation_is_one_line_beside_the_events_at_160_columns():
    lines = _text(desk_snapshot(), 160, 45)
    sol = next(line for line in lines if line.startswith("│ SOL ") and "x0.53 x1.46 x0.53" in line)
    assert "compound" in sol and "│ │" in sol  # its whole row, the events panel beside it
    btc = next(line for line in lines if line.startswith("│ BTC ") and "$23,000" in line)
    assert "x1.10 x0.90 x1.10" in btc
    assert any("total" in line and "$76,500" in line for line in lines)


def test_a_fresh_allocation_without_scores_keeps_its_rows_whole_at_160_columns():
    from messages.snapshot import AllocationRow

    snap = desk_snapshot()
    fresh = tuple(AllocationRow(asset=r.asset, capital=20000, base=20000) for r in snap.assets)
    lines = _text(msgspec.structs.replace(snap, allocation=fresh), 160, 45)
    rows = [line for line in lines if "$20,000" in line and "hold" in line]
    assert len(rows) == 5 and all("x1.00 x1.00 x1.00" in line for line in rows)
    assert any("total $100,000" in line for line in lines)
