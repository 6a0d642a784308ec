"""A fenced (abandoned) actor writes into a muted board: it must accept everything an
actor writes on the real one, or the zombie's cleanup fails (it did, for quote sizes)."""
from __future__ import annotations

import re

from actors import asset_actor
from tests.hive_helpers import ROOT


def test_the_muted_board_takes_everything_the_actors_write():
    used = set()
    for path in (ROOT / "actors").glob("*.py"):
        used |= set(re.findall(r"self\.board\.([a-z_]+)", path.read_text()))
    assert {"quotes", "quote_sizes", "set_phase"} <= used, "the pattern no longer finds the actors' board use"
    missing = sorted(name for name in used if not hasattr(asset_actor._MUTED, name))
    assert missing == []


def test_a_fenced_actor_clearing_its_quotes_leaves_nothing_behind():
    muted = asset_actor._MUTED
    muted.quotes["BTC"] = (0.0, 0.0, 0)
    muted.quote_sizes["BTC"] = (0.0, 0.0)
    assert muted.quotes == {} and muted.quote_sizes == {}
