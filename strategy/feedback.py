"""What the quoter learns from the order actor's venue answers.

The order actor knows which level an order was; the quoter owns the models that learn
from it (markouts, post-only safety ticks, the API-error breaker, funding skew). The
order actor calls ``feedback`` with the event and the order as it was before the event
was applied, and forwards the result to the quoter.
"""
from __future__ import annotations

from typing import Any, Literal

from messages.orders import Fill, Funding, OrderAck, OrderReject, QuoteFeedback
from strategy.order_diff import LiveOrder

ALO_PREFIX = "Post only"  # Hyperliquid's (and the sim's) post-only refusal


def feedback(ev: Any, order: LiveOrder | None) -> QuoteFeedback | None:
    """The quoter's news in ``ev`` (None: nothing for it)."""
    if isinstance(ev, Fill):
        return QuoteFeedback(ev.asset, ev.ts, "fill", ev.side, order.level if order else -1, ev.px)
    if isinstance(ev, Funding):
        return QuoteFeedback(ev.asset, ev.ts, "funding", value=ev.rate)
    if order is None or order.state != "pending":
        return None  # a cancel's answer, or an order we no longer track
    if isinstance(ev, OrderAck):
        return QuoteFeedback(ev.asset, ev.ts, "placed", order.side, order.level)
    if isinstance(ev, OrderReject):
        kind: Literal["alo_reject", "error"] = "alo_reject" if ev.reason.startswith(ALO_PREFIX) else "error"
        return QuoteFeedback(ev.asset, ev.ts, kind, order.side, order.level)
    return None


def wants_feedback(q: Any) -> bool:
    """Whether the quoting config (QuotingConfig) has a feature that learns from feedback."""
    te = q.tape_edge
    return bool((q.toxicity.enabled and q.toxicity.markouts) or q.alo_safety.enabled or q.breakers.enabled
                or q.funding_skew.enabled or (te.enabled and (te.wait_book_after_fill or te.own_fills)))
