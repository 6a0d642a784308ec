"""The role cores (message in, outbox out): the logic the actors and the backtester share."""
from config import QuotingConfig, RiskConfig
from messages.allocation import AllocationUpdate, ExposureReport, PortfolioGate
from messages.control import Tick
from messages.market import BookSnapshot, Level, MarketState
from messages.orders import Fill, QuoteLadder, QuoteLevel
from messages.risk import OwnFills, RiskState, RiskStateRequest
from strategy.book_role import RISK_MARK_INTERVAL_S, BookRole
from strategy.order_role import Command, OrderRole
from strategy.order_tracker import OrderTracker
from strategy.outbox import LOG, SUPERVISOR, VENUE
from strategy.performance import PerformanceTracker
from strategy.quoter import QuoterCore
from strategy.quoter_role import QuoterRole
from strategy.risk import RiskCore
from strategy.risk_role import RiskRole
from supervisor.asset_money import META, AssetMoney


def book(ts, seq, mid=100.0):
    return BookSnapshot("ETH", ts, seq, (Level(mid - 0.01, 5.0),), (Level(mid + 0.01, 5.0),))


def market(ts, mid=100.0):
    return MarketState("ETH", ts, 1, mid, mid, mid - 0.01, mid + 0.01, 2.0, 0.0, 1.0, "NORMAL")


def risk(ts, halted=False):
    return RiskState("ETH", ts, 0.0, 0.0, 100.0, 0.0, 0.0, 0.0, 20_000.0, 5_000.0, halted=halted)


def fill(tid, ts=1.0):
    return Fill("ETH", "c", 1, tid, "B", 100.0, 0.1, 0.0, ts, 0.0)


def to(out):
    return [r for r, _ in out]


def test_book_marks_risk_at_most_once_per_interval_but_quotes_every_book():
    role = BookRole("ETH", 1.0)
    recipients = [to(role.handle(book(t, i + 1))) for i, t in enumerate((10.0, 10.3, 10.0 + RISK_MARK_INTERVAL_S))]
    assert recipients == [["quoter", "risk"], ["quoter"], ["quoter", "risk"]]


def test_quoter_waits_for_risk_then_pulls_quotes_on_a_stale_book_until_a_fresh_one():
    role = QuoterRole(QuoterCore("ETH", QuotingConfig(stale_book_s=2.0), 4), start_ts=0.0)
    assert role.start() == [("risk", RiskStateRequest("ETH"))]
    assert role.handle(market(1.0)) == []  # no word from risk yet
    assert to(role.handle(risk(1.0))) == ["order"]
    assert role.handle(Tick(2.5)) == []  # the book is 1.5 s old: fine
    out = role.handle(Tick(3.5))
    assert to(out) == ["order", LOG] and out[0][1].bids == () and out[0][1].asks == ()
    assert role.handle(Tick(4.0)) == [] and role.stalls == 1  # pulled once
    assert role.handle(risk(4.0)) == []  # risk news alone does not resume on a stale book
    out = role.handle(market(4.1))
    assert to(out) == [LOG, "order"] and out[0][1].kind == "resume" and out[1][1].bids


def test_risk_publishes_a_new_fill_once_and_reports_to_the_supervisor():
    order = OrderRole(OrderTracker("ETH", 1, 1, 4, 0.5), ts=0.0)
    role = RiskRole(RiskCore("ETH", RiskConfig(), 20_000.0), PerformanceTracker("ETH", 1.0, 1.0, 0.0), 0.0)
    [(dest, own)] = order.handle(fill(7))
    assert dest == "risk"
    out = role.handle(own)
    assert ("quoter", role.state) in out and ("order", role.state) in out and role.state.position == 0.1
    assert SUPERVISOR in to(out)
    assert order.handle(fill(7)) == []  # the same trade id again: risk never hears of it
    assert role.core.position == 0.1 and role.core.fills_buy == 1
    quiet = RiskRole(RiskCore("ETH", RiskConfig(), 20_000.0), PerformanceTracker("ETH", 1.0, 1.0, 0.0), 0.0,
                     reports=False)
    assert to(quiet.handle(own)) == ["quoter", "order"]


def test_order_places_a_ladder_and_pulls_everything_on_a_halt():
    role = OrderRole(OrderTracker("ETH", 1, 1, 4, 0.5), ts=0.0)
    ladder = QuoteLadder("ETH", 1.0, 1, (QuoteLevel("B", 0, 99.9, 0.2),), (QuoteLevel("A", 0, 100.1, 0.2),), reservation=100.0,
                         recv_ns=42)
    assert role.handle(ladder) == []  # no risk state yet: no mid, no limit
    assert role.handle(risk(1.0)) == []  # nothing rests: nothing to cancel
    [(dest, cmd)] = role.handle(ladder)
    assert dest == VENUE and isinstance(cmd, Command) and cmd.cancels == () and len(cmd.places) == 2
    assert cmd.recv_ns == 42
    assert role.handle(ladder) == []  # already resting as wanted
    [(dest, cancel)] = role.handle(risk(2.0, halted=True))
    assert dest == VENUE and sorted(cancel.cancels) == sorted(o.cloid for o in cmd.places) and cancel.places == ()


def test_order_passes_each_fill_to_risk_once():
    role = OrderRole(OrderTracker("ETH", 1, 1, 4, 0.5), ts=0.0)
    assert role.handle(fill(3, ts=5.0)) == [("risk", OwnFills("ETH", 5.0, (fill(3, ts=5.0),), 0.1))]
    assert role.handle(fill(3, ts=5.0)) == [] and role.ts == 5.0


def test_asset_money_keeps_the_latest_grant_and_gate_for_a_new_risk_actor():
    money = AssetMoney()
    assert money.capital == 0.0 and money.risk_started() == []
    first, second = AllocationUpdate("ETH", 1.0, 10_000.0, 10_000.0), AllocationUpdate("ETH", 2.0, 12_000.0, 10_000.0)
    gate = PortfolioGate("ETH", 2.0, 3_000.0)
    assert money.handle(first) == [("risk", first)]
    money.handle(second)
    money.handle(gate)
    assert money.capital == 12_000.0 and money.risk_started() == [("risk", second), ("risk", gate)]
    report = ExposureReport("ETH", 3.0, 500.0, 1.0)
    assert money.handle(report) == [(META, report)]


def test_a_flapping_guard_note_reaches_the_log_only_once_it_holds():
    """A level gaining and losing its edge flips the ladder's note every second; the event
    log hears of a guard (or of its end) only once its topic has held GUARD_SETTLE_S, with
    the note as it reads then, and never twice running for the same topic."""
    from messages.orders import QuoteLadder
    from strategy.quoter_role import GUARD_SETTLE_S

    role = QuoterRole(QuoterCore("ETH", QuotingConfig(), 4), start_ts=0.0)
    notes: list[str] = []
    role.core.quote = lambda m, r, now: QuoteLadder("ETH", now, 1, (), (), note=notes[-1])
    role.handle(risk(0.0))

    def guards(ts: float, note: str) -> list[str]:
        notes.append(note)
        return [m.text for dest, m in role.handle(market(ts)) if dest == LOG and m.kind == "guard"]

    flaps = [guards(1.0 + 0.5 * i, f"bid: {i} level(s) without edge" if i % 2 else "") for i in range(13)]
    assert flaps == [[]] * 13  # half a second on, half a second off: nothing logged
    held = [guards(10.0 + 0.5 * i, f"bid: {i + 1} level(s) without edge") for i in range(8)]
    assert [x for x in held if x] == [["bid: 7 level(s) without edge"]]  # once, after 3 s, as it reads then
    assert held.index(["bid: 7 level(s) without edge"]) == int(GUARD_SETTLE_S / 0.5)
    freed = [guards(14.0 + 0.5 * i, "") for i in range(8)]
    assert [x for x in freed if x] == [["quoting freely again"]]
