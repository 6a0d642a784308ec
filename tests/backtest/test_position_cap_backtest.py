"""The position cap in a backtest (README, "The position cap"; on by default): with
``config.toml`` as it stands no asset's inventory grows past about 6 lots of
``order_size_usd``, where without the cap the same market takes it to 18-27 lots."""
import pathlib

import config as c
from backtest.engine import Backtest
from backtest.overrides import override

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _largest_lots(cap: float | None) -> dict[str, float]:
    cfg = c.load(ROOT / "config.toml")
    if cap is not None:
        cfg = override(cfg, {"quoting.position_cap_lots": cap})
    res = Backtest(cfg, seed=2, only=["BTC", "HYPE"]).run(900.0)
    size = {a: cfg.assets[a].quoting.order_size_usd for a in res.records}
    return {a: max(abs(x) for x in r.inventory_usd) / size[a] for a, r in res.records.items()}


def test_the_default_holds_no_asset_past_six_lots_and_without_the_cap_it_would():
    assert c.load(ROOT / "config.toml").assets["BTC"].quoting.position_cap_lots == 6.0
    capped = _largest_lots(None)
    # marked at the mid: a lot bought at the cap is worth a little more or less later
    assert all(lots <= 6.5 for lots in capped.values()), capped  # measured 5.8 and 5.3
    assert max(capped.values()) > 4.0  # it trades up to the cap, not far short of it
    uncapped = _largest_lots(0.0)
    assert all(lots > 12.0 for lots in uncapped.values()), uncapped  # measured 26.9 and 17.7
