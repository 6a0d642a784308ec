"""What the quoter learns from the order actor's venue answers.

The order actor knows which level an order was; the quoter owns the models that learn
from it (markouts, post-only safety ticks, the API-error breaker, funding skew). The
order actor calls ``feedback`` with the event and the order as it was before the event
was applied, and forwards the result to the quoter.
"""
from __future__ import annotations

from typing import Any

from messages.orders import Fill, Funding, OrderAck, OrderReject, QuoteFeedback
from strategy.order_diff import LiveOrder

ALO_PREFIX = "Post only"  # Hyperliquid's (and the sim's) post-only refusal


def feedback(ev: Any, order: LiveOrder | None) -> QuoteFeedback | None:
    """The quoter's news in ``ev`` (None: nothing for it)."""
    if isinstance(ev, Fill):
        return QuoteFeedback(ev.asset, ev.ts, "fill", ev.side, order.level if order else -1, ev.px)
    if isinstance(ev, Funding):
        return QuoteFeedback(ev.asset, ev.ts, "funding", value=ev.rate)
    if order is None:
        return None  # an order we no longer track
    if isinstance(ev, OrderAck) and order.state != "resting":  # pending, or cancelled before its ack
        return QuoteFeedback(ev.asset, ev.ts, "placed", order.side, order.level)
    if isinstance(ev, OrderReject) and ev.reason.startswith(ALO_PREFIX):
        # a placement's answer, also when a cancel followed it before the answer came (a
        # requote racing the book): those are the rejects the safety ticks are for
        return QuoteFeedback(ev.asset, ev.ts, "alo_reject", order.side, order.level)
    if isinstance(ev, OrderReject) and order.state == "pending":  # not a cancel's answer
        return QuoteFeedback(ev.asset, ev.ts, "error", order.side, order.level)
    return None


def wants_feedback(q: Any) -> bool:
    """Whether the quoting config (QuotingConfig) has a feature that learns from feedback."""
    te = q.tape_edge
    return bool((q.toxicity.enabled and q.toxicity.markouts) or q.alo_safety.enabled or q.breakers.enabled
                or q.funding_skew.enabled or (te.enabled and (te.wait_book_after_fill or te.own_fills)))
