"""The dead-man's switch as a guarantee: no quote rests unless the venue will cancel it.

The venue's ``scheduleCancel`` cancels every order at a time we keep pushing forward;
a killed or frozen process stops pushing, so its quotes are gone within the window.
That only protects us while the switch is actually set, so this core decides, from the
renewals' outcomes and the time, whether new orders may go out: not before the first
renewal has failed, not after a refusal (bad time, no address budget, the day's
firings spent), not once renewals fail and the armed time is closer than
``min_left_s``, and not past the armed time (a frozen root renews nothing: the venue's
firing then cancels what rests, and nothing new follows). When quoting stops this way
every asset cancels. Pure: time is an argument.
"""
from __future__ import annotations

import math

DAY_S = 86_400.0


def actions_per_day(renew_every_s: float) -> float:
    """What the switch costs in the venue's address-action budget (one action a renewal)."""
    return DAY_S / renew_every_s if renew_every_s > 0 else math.inf


class DeadMansSwitch:
    def __init__(self, window_s: float, renew_every_s: float) -> None:
        self.window_s = window_s
        self.renew_every_s = renew_every_s
        # quoting stops when less than this is left (two renewals missed in a row)
        self.min_left_s = max(1.0, window_s - 2.0 * renew_every_s)
        self.armed_at: float | None = None  # the venue cancels everything then, unless renewed
        self.refusal = ""  # the venue's last refusal, until a renewal succeeds
        self.failures = 0  # renewals that failed in a row (refused or no answer)
        self.blocked_reason = ""  # why placements are held back ("" = they may go)
        self.blocks = 0  # times quoting stopped because of the switch

    def on_renewed(self, at: float) -> None:
        self.armed_at = at
        self.refusal = ""
        self.failures = 0

    def on_refused(self, why: str) -> None:
        """The venue said no: nothing protects new orders, whatever is still armed."""
        self.refusal = why or "refused"
        self.failures += 1

    def on_failed(self, why: str) -> None:
        """No answer (timeout, connection): the armed time may still protect us for a while."""
        self.failures += 1

    def on_cleared(self) -> None:
        self.armed_at = None

    def why_not(self, now: float) -> str:
        """Why orders may not be placed now ("" if they may)."""
        if self.refusal:
            return f"dead-man's switch refused: {self.refusal}"
        if self.armed_at is None:
            # before the first answer orders may go (the first renewal is already on its
            # way; waiting for it would make the hive and the backtester part ways)
            return f"dead-man's switch not set ({self.failures} renewal(s) failed)" if self.failures else ""
        left = self.armed_at - now
        if left <= 0:  # fired (or about to): whatever we place now would rest unprotected
            return "dead-man's switch lapsed: not renewed in time"
        if self.failures and left < self.min_left_s:
            return f"dead-man's switch not renewed ({left:.1f}s left, {self.failures} renewal(s) failed)"
        return ""

    def update(self, now: float) -> tuple[bool, bool]:
        """(stopped now, resumed now): the transitions the caller acts on (cancel all / say so).
"""
        why = self.why_not(now)
        was = self.blocked_reason
        self.blocked_reason = why
        if why and not was:
            self.blocks += 1
            return True, False
        return False, bool(was and not why)

    def status(self, now: float) -> dict[str, float | int | str]:
        """For the view and ``makerhive status``: when it fires and what it costs."""
        return {"dms_at": self.armed_at or 0.0, "now": now, "dms_window_s": self.window_s,
                "dms_actions_per_day": round(actions_per_day(self.renew_every_s)),
                "dms_blocked": self.blocked_reason, "dms_failures": self.failures}
