"""One asset's equity and inventory over a run, read from the journal's positions rows:
what both the report's figures and its plots are computed from."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from makerhive.journal import read_rows


def position_series(path: Path, run: int, asset: str) -> dict[str, np.ndarray]:
    rows = read_rows(path, "SELECT ts, net_pnl, inventory_usd, mid, limit_usd FROM positions "
                           "WHERE run_id = ? AND asset = ? ORDER BY ts, id", (run, asset))
    cols = list(zip(*rows)) if rows else [[], [], [], [], []]

    def f(c) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in c], dtype=float)

    return {"ts": f(cols[0]), "net_pnl": f(cols[1]), "inventory_usd": f(cols[2]), "mid": f(cols[3]),
            "limit_usd": f(cols[4])}
