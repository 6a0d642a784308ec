"""The promises a market maker must keep, checked against the venue (the truth).

Used by the fault-injection tests and the chaos run. Each check reads the venue through
the gateway (on the venue thread, so it sees a consistent state) and the actors through
asks or their published state; none of them changes anything.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pykka

from messages.orders import QueryLiveOrders
from exchange_rules.cloid import parse_cloid
from venues.runtime import VenueUnavailable

if TYPE_CHECKING:
    from makerhive.app import Hive


def known_orders(hive: Hive, asset: str, timeout: float = 2.0) -> set[str] | None:
    """Cloids the asset's live order actor knows; None if it does not answer (restarting)."""
    ref = hive.teams[asset].get("order")
    if ref is None:
        return None
    try:
        return set(ref.ask(QueryLiveOrders(asset), timeout=timeout))
    except (pykka.ActorDeadError, pykka.Timeout):
        return None


def orphan_orders(hive: Hive, asset: str) -> int | None:
    """Orders resting on the venue that no live order actor knows about.

    An order counts only if it is still on the venue, still unknown, in a second look:
    one look can catch an order between the venue and an in-flight answer. None when no
    order actor answers (the asset is between incarnations: ask again later).
    """
    try:
        first = {o.cloid for o in hive.gateway.open_orders(asset)}
        known = known_orders(hive, asset)
        if known is None:
            return None
        suspects = first - known
        if not suspects:
            return 0
        second = {o.cloid for o in hive.gateway.open_orders(asset)}
        known = known_orders(hive, asset)
        if known is None:
            return None
        return len((suspects & second) - known)
    except VenueUnavailable:
        return None


def stale_epoch_orders(hive: Hive, asset: str) -> int:
    """Orders on the venue from a retired order epoch (a fenced incarnation's)."""
    current = hive.gateway.current_epoch(asset)
    n = 0
    for o in hive.gateway.open_orders(asset):
        parts = parse_cloid(o.cloid)
        if parts is None or parts.epoch != current:
            n += 1
    return n


def venue_account(hive: Hive, asset: str) -> tuple[float, int]:
    """The venue's position and number of fills for ``asset``, read in one go."""
    engine = hive.venue.engine
    return hive.runtime.call(lambda: (engine.position(asset), engine.fill_count(asset)))


def position_settles(hive: Hive, asset: str, timeout: float = 5.0, poll: float = 0.02) -> bool | None:
    """Does the risk actor's position equal the venue's once both have seen the same fills?

    Fills keep coming while we look, so compare only when the fill counts agree: equal
    counts with different positions is a mismatch; counts that never agree within the
    timeout mean a fill was lost (or counted twice). True / False, or None if risk has
    not published yet.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        risk = hive.board.risk.get(asset)
        if risk is None:
            return None
        position, n_fills = venue_account(hive, asset)
        if risk.fills_buy + risk.fills_sell == n_fills:
            return abs(risk.position - position) < 1e-9
        time.sleep(poll)
    return False


def limit_breached(summary_asset: dict, max_order_usd: float) -> bool:
    """A fill that took inventory beyond the limit in force at the time by more than one
    order's size (an order in flight may fill). The limit moves with the allocation, so
    the risk core measures each live fill against the limit of its moment."""
    excess = summary_asset.get("limit_excess_usd")
    if excess is None:
        excess = summary_asset["max_abs_inventory_usd"] - summary_asset["limit_usd"]
    return excess > max_order_usd + 1e-6


def max_order_usd(hive: Hive, asset: str) -> float:
    q = hive.cfg.assets[asset].quoting
    return q.order_size_usd * max(q.level_size_mult)
