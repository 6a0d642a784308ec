"""A position left past a limit that shrank under it is worked out (strategy/unwind.py), on
the order-book market, through the very cores that trade: the meta-supervisor cuts an
asset's capital to a third of what its position needs; a reduce-only IOC takes the position
back to the new limit within seconds, the passive unwind keeps it there, and the books
still balance (the engine's cash and position are the report's)."""
from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

import config as config_mod
from backtest.clock import NS, to_ns
from backtest.engine import Backtest
from backtest.evaluate import scenario_config
from backtest.report import build_report
from messages.allocation import AllocationUpdate

ROOT = Path(__file__).resolve().parents[2]
ASSET = "SOL"
DURATION_S = 420.0


def _cfg(**risk: object) -> config_mod.Config:
    cfg = scenario_config(config_mod.load(ROOT / "config.toml"), "trending_down", DURATION_S)
    if risk:
        a = cfg.assets[ASSET]
        cfg = msgspec.structs.replace(cfg, assets={**cfg.assets, ASSET: msgspec.structs.replace(
            a, risk=msgspec.structs.replace(a.risk, **risk))})
    return cfg


class _CutAt(Backtest):
    """The backtest with the meta-supervisor's grant cut to ``base`` at ``at_s``."""

    def __init__(self, cfg: config_mod.Config, at_s: float, base: float) -> None:
        super().__init__(cfg, assets=[ASSET], seed=2)
        self._cut = (to_ns(at_s), base)

    def _tick(self, t: int) -> None:
        if self._cut is not None and t >= self._cut[0]:
            base = self._cut[1]
            self._post(ASSET, "sup", AllocationUpdate(ASSET, t / NS, base=base, reference=self.capital[ASSET]))
            self._cut = None
        super()._tick(t)


def _inventory(result) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(result.sample_ts), np.abs(np.asarray(result.records[ASSET].inventory_usd))


@pytest.fixture(scope="module")
def loaded():
    """When, in the uncut run, the position is at its largest (it is the same run up to the cut)."""
    cfg = _cfg()
    ts, inv = _inventory(Backtest(cfg, assets=[ASSET], seed=2).run(DURATION_S))
    i = int(np.argmax(np.where(ts <= 300.0, inv, 0.0)))
    assert inv[i] > 100.0, "the run must build a position to cut under"
    return float(ts[i]), float(inv[i])


@pytest.mark.parametrize("ioc", [True, False])
def test_a_limit_cut_under_the_position_is_worked_back(loaded, ioc):
    at, inv = loaded
    cfg = _cfg(emergency_ioc=ioc)
    pct = cfg.assets[ASSET].risk.max_position_pct
    limit = inv / 3.0  # 3x past it: well past the emergency level of 1.5x
    result = _CutAt(cfg, at, base=limit / pct).run(DURATION_S)
    ts, held = _inventory(result)
    rec = result.records[ASSET]
    report = build_report(result)["per_asset"][ASSET]
    assert rec.engine_position == pytest.approx(rec.position)
    assert report["net_pnl"] == pytest.approx(report["engine_pnl"], abs=1e-6)
    after = held[ts >= at + 5.0]
    if ioc:
        assert rec.ioc_fills > 0
        # within seconds the IOC took it back to the limit (a mark's drift aside), and from
        # then on it never ran past the emergency level again
        assert after.max() <= 1.5 * limit * 1.05
    else:
        assert rec.ioc_fills == 0
        # passively: the reducing side at the touch brings it down within the run
        assert held[-1] <= limit * 1.1 or held[ts >= at + 120.0].min() <= limit * 1.1


def test_the_journal_marks_the_ioc_fills_as_taker(loaded, tmp_path):
    from makerhive.journal import read_rows
    from makerhive.journal_backtest import write_backtest

    at, inv = loaded
    cfg = _cfg()
    result = _CutAt(cfg, at, base=inv / 3.0 / cfg.assets[ASSET].risk.max_position_pct).run(DURATION_S)
    path = write_backtest(result, tmp_path)
    rows = read_rows(path, "SELECT liquidity, count(*) FROM fills GROUP BY liquidity")
    by = {r[0]: r[1] for r in rows}
    assert by.get("taker") == result.records[ASSET].ioc_fills > 0
    assert by.get("maker") == len(result.records[ASSET].fills) - by["taker"]
