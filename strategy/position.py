"""How a fill moves a position: one rule, so the order role (the position's owner) and
the risk core's PnL walk arrive at the very same float."""
from __future__ import annotations

EPS = 1e-9  # relative: a position this close to zero is float residue of a full close


def step(position: float, signed: float) -> float:
    """``position`` after a fill of ``signed`` units (+ bought, − sold); a close that
    leaves only float residue is flat."""
    new = position + signed
    if abs(new) <= EPS * max(1.0, abs(signed)):
        return 0.0
    return new
