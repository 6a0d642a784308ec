"""Named scenarios: a config turned into a story the sim tells (``makerhive run --scenario``).

- ``allocation-demo``: the five default assets; SOL's market turns toxic from minute 3
  to minute 9 (a crash-like market of jumps and informed sellers: nearly every fill is
  on the wrong side) and then recovers. The meta-supervisor, on sim-minute timings (a 30 s period,
  a 4 min window), takes capital and risk away from SOL while it loses, gives it to the
  assets that earn, and hands it back once SOL earns again. At the scenario's default
  ``--speed 30`` the whole story (about 20 simulated minutes) takes about 40 s of wall time.

``allocation_set`` is the five-asset scenario set of the allocation evidence (README):
the same markets, with one or two assets turning toxic at different times, and one
with no toxic episode at all (the supervisor must not cost anything there).
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from config import Config, MarketEpisode

# A toxic market for a market maker: the sim's crash regime (3.5x the volatility, jumps
# twenty times as often and twice as big, mostly down, through resting quotes) with 90% of
# takers informed sellers: nearly every fill is on the wrong side of the next move.
TOXIC: dict[str, Any] = dict(regime="crash", informed_share=0.9, trend_bp_per_min=1.0)
DEMO_SPEED = 30.0
# min_t_stat 0: the demo shows the machinery within minutes, without waiting for evidence
DEMO_ALLOCATION = dict(period_s=30.0, window_s=240.0, sample_s=5.0, report_s=10.0, min_history_s=90.0, min_t_stat=0.0)
DEMO_TOXIC = ("SOL", 180.0, 540.0)


def toxic(cfg: Config, asset: str, start_s: float, end_s: float) -> Config:
    """``cfg`` with ``asset``'s market toxic from ``start_s`` to ``end_s`` (simulated seconds)."""
    a = cfg.assets[asset]
    ep = MarketEpisode(start_s=start_s, end_s=end_s, **TOXIC)
    market = msgspec.structs.replace(a.market, episodes=tuple(sorted(a.market.episodes + (ep,), key=lambda e: e.start_s)))
    assets = dict(cfg.assets)
    assets[asset] = msgspec.structs.replace(a, market=market)
    return msgspec.structs.replace(cfg, assets=assets)


def allocation_timing(cfg: Config, **kw: float) -> Config:
    return msgspec.structs.replace(cfg, allocation=msgspec.structs.replace(cfg.allocation, **kw))


def allocation_demo(cfg: Config) -> Config:
    asset, start, end = DEMO_TOXIC
    return toxic(allocation_timing(cfg, **DEMO_ALLOCATION), asset, start, end)


SCENARIOS: dict[str, Callable[[Config], Config]] = {"allocation-demo": allocation_demo}
SCENARIO_SPEED = {"allocation-demo": DEMO_SPEED}


def apply(cfg: Config, name: str) -> Config:
    try:
        return SCENARIOS[name](cfg)
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; have {sorted(SCENARIOS)}") from None


def allocation_set(cfg: Config) -> dict[str, Config]:
    """The evidence's scenario set (40 simulated minutes each)."""
    return {
        "SOL toxic 10-25 min": toxic(cfg, "SOL", 600.0, 1500.0),
        "HYPE toxic 5-20 min": toxic(cfg, "HYPE", 300.0, 1200.0),
        "ETH 10-20, XRP 25-35 min": toxic(toxic(cfg, "ETH", 600.0, 1200.0), "XRP", 1500.0, 2100.0),
        "no toxic episode": cfg,
    }
