"""The quoter actor's logic: the latest market and risk in, the ladder to rest out.

It quotes only once it has heard from risk: on a (re)start risk speaks after the order
actor has reconciled with the venue, so restart => reconcile => quote holds. A book
older than ``stale_book_s`` pulls every quote until a fresh one arrives.
"""
from __future__ import annotations

import re
from typing import Any

import msgspec

from messages.control import Tick
from messages.market import MarketState, Sweep
from messages.orders import QuoteFeedback, QuoteLadder
from messages.params import SetQuotingParams
from messages.risk import RiskState, RiskStateRequest
from strategy.outbox import LOG, Note, Outbox
from strategy.params_reload import apply_params
from strategy.quoter import QuoterCore

_NUMBERS = re.compile(r"[-+0-9.%]+")  # a note less its numbers: what the guard is about
# the sweep guard can pull a side every second in a fast market: the event log hears of it
# at most once in this long, with the count of sweeps since
SWEEP_NOTE_EVERY_S = 60.0
# a level gaining and losing its edge flips the ladder's note about once a second: the
# event log hears of a guard once its topic has held this long (the view's "guards in
# force" follows every ladder, not the log)
GUARD_SETTLE_S = 3.0


class QuoterRole:
    def __init__(self, core: QuoterCore, start_ts: float) -> None:
        self.core = core
        self.asset = core.asset
        self.start_ts = start_ts
        self.market: MarketState | None = None
        self.risk: RiskState | None = None
        self.stale = False
        self.stalls = 0  # times the book went stale
        self._topic = ""  # the topic of the last guard event written
        self._pending, self._pending_since = "", -float("inf")  # the ladder's topic now, since when
        self._note, self._note_topic = "", ""  # the last note read, and it without its numbers
        self.learned = _learned_guard(core)
        self._sweep_noted_at, self._sweeps_unnoted = -float("inf"), 0

    def start(self) -> Outbox:
        """Ask risk to state its view once (it has no reason to speak otherwise)."""
        return [("risk", RiskStateRequest(self.asset))]

    def handle(self, msg: Any) -> Outbox:
        if isinstance(msg, MarketState):
            self.market = msg
            return self._quote(msg.ts, from_book=True)
        if isinstance(msg, RiskState):
            self.risk = msg
            tuned = self.core.tuner.observe(msg.ts, msg) if self.core.tuner is not None else None
            if tuned is None:
                return self._quote(msg.ts, from_book=False)
            note = Note(msg.ts, "tune", f"auto-tuner: spread x{tuned.spread_mult:.2f}, skew x{tuned.skew_mult:.2f}: "
                                        f"{tuned.why}"[:200])
            return [(LOG, note), *self._quote(msg.ts, from_book=False)]
        if isinstance(msg, Sweep):
            if not self.core.on_sweep(msg):
                return []
            return [*self._sweep_note(msg), *self._quote(msg.ts, from_book=False)]  # out now, not at the next book
        if isinstance(msg, QuoteFeedback):
            self.core.on_feedback(msg)
            return []
        if isinstance(msg, Tick):
            return self._check_stale(msg.now)
        if isinstance(msg, SetQuotingParams):
            return self._set_params(msg)
        return []

    def _sweep_note(self, sweep: Sweep) -> Outbox:
        """The event that a sweep pulled a side, at most once a ``SWEEP_NOTE_EVERY_S``."""
        if sweep.ts - self._sweep_noted_at < SWEEP_NOTE_EVERY_S:
            self._sweeps_unnoted += 1
            return []
        since = f" ({self._sweeps_unnoted} more since the last note)" if self._sweeps_unnoted else ""
        self._sweep_noted_at, self._sweeps_unnoted = sweep.ts, 0
        side = "asks" if sweep.side == "A" else "bids"
        taker = "buy" if sweep.side == "A" else "sell"
        hold = self.core.params.sweep_guard.hold_s
        return [(LOG, Note(sweep.ts, "sweep", f"sweep guard: a {taker} {sweep.depth_bp:.1f} bp from the mid "
                                              f"pulled the {side} for {hold:g} s{since}"))]

    def _set_params(self, msg: SetQuotingParams) -> Outbox:
        """New parameters (hot reload): noted, then a requote on them at once."""
        changed = apply_params(self.core, msg.params)
        if not changed:
            return []
        self.learned = _learned_guard(self.core)
        note = (LOG, Note(msg.ts, "params", f"{msg.reason or 'new parameters'}: {', '.join(changed)}"[:200]))
        return [note, *self._quote(msg.ts, from_book=False)]

    def _check_stale(self, now: float) -> Outbox:
        """No book for a few pushes (feed stalled or dropped): pull every quote. Quoting
        on an old book is how a market maker gets picked off."""
        last = self.market.ts if self.market is not None else self.start_ts
        if self.stale or now - last <= self.core.params.stale_book_s:
            return []
        self.stale = True
        self.stalls += 1
        return [("order", QuoteLadder(self.asset, now, -1, (), ())),
                (LOG, Note(now, "stall", f"no book for {now - last:.1f}s: all quotes pulled"))]

    def _book_too_old(self, market: MarketState, now: float) -> bool:
        """Whether risk news finds the book too old to place orders on (alo_safety)."""
        a = self.core.params.alo_safety
        return a.enabled and a.max_book_age_s > 0 and now - market.ts > a.max_book_age_s

    def _quote(self, ts: float, from_book: bool) -> Outbox:
        market, risk = self.market, self.risk
        if market is None or risk is None:
            return []
        out: Outbox = []
        if self.stale:
            if not from_book:
                return []  # stay out until a fresh book arrives
            self.stale = False
            out.append((LOG, Note(ts, "resume", "book feed back: quoting again")))
        now = max(ts, market.ts)
        ladder = self.core.quote(market, risk, now)
        if not from_book and self._book_too_old(market, now):
            ladder = msgspec.structs.replace(ladder, retreat_only=True)
        if self.learned is not None:
            ladder = self.learned.adjust(market, ladder, self.core.sz_decimals)
        if not from_book and ladder.recv_ns:
            # tick-to-action is measured from book updates only, not from risk news
            ladder = msgspec.structs.replace(ladder, recv_ns=0)
        out.append(("order", ladder))
        # a guard, breaker or missing edge that starts (or ends) and holds GUARD_SETTLE_S is
        # an event; its numbers changing is not, nor a flap shorter than that
        note = ladder.note
        if note != self._note:  # most requotes carry the last note again: no need to read it
            self._note = note
            self._note_topic = _NUMBERS.sub("", note) if note else ""
        topic = self._note_topic
        if topic != self._pending:
            self._pending, self._pending_since = topic, ts
        if topic != self._topic and ts - self._pending_since >= GUARD_SETTLE_S:
            self._topic = topic
            out.append((LOG, Note(ts, "guard", note[:110] if note else "quoting freely again")))
        return out


def _learned_guard(core: QuoterCore):
    """The learned model's switch (quoting.learned), when on."""
    lc = core.params.learned
    if not lc.enabled:
        return None
    from strategy.learned import LearnedGuard

    return LearnedGuard(lc)
