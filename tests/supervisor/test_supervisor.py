"""The generic supervisor with real pykka threads: strategies, intensity, hangs, start failure."""
import queue
import threading
import time

import pykka
import pytest

from actors.base import SupervisedActor
from messages.control import ChildExited, Crash, Ping, Tick
from supervisor.supervisor import ChildSpec, Supervisor

ORDER = ["book", "risk", "order", "quoter"]


class Journal:
    def __init__(self):
        self.q: queue.Queue = queue.Queue()

    def wait_for(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                item = self.q.get(timeout=0.05)
            except queue.Empty:
                continue
            seen.append(item)
            if pred(item):
                return seen
        raise AssertionError(f"not seen; got {seen}")

    def drain(self, settle=0.2):
        time.sleep(settle)
        out = []
        while not self.q.empty():
            out.append(self.q.get())
        return out


class Worker(SupervisedActor):
    def __init__(self, journal, fail_init=False, gate=None, **kw):
        super().__init__(**kw)
        self.journal, self.fail_init, self.gate = journal, fail_init, gate

    def init(self):
        if self.fail_init:
            raise RuntimeError("init failed")
        self.journal.q.put(("start", self.child_id, self.epoch))

    def handle(self, msg):
        if msg == "hang":
            self.gate.wait(10)
            return
        return super().handle(msg)

    def cleanup(self, reason):
        self.journal.q.put(("stop", self.child_id, reason))


class Parent(pykka.ThreadingActor):
    def __init__(self, journal):
        super().__init__()
        self.journal = journal

    def on_receive(self, msg):
        if isinstance(msg, ChildExited):
            self.journal.q.put(("parent", msg.child_id, msg.reason))


def make_sup(journal, strategy="rest_for_one", intensity=3, period=60.0, parent=None, fail=None, gate=None,
             max_handler_s=5.0, hang_at_start=None):
    def starter(cid):
        def start(p, child_id, epoch, lv):
            ref = Worker.start(journal, fail_init=(fail == cid), gate=gate, parent=p, child_id=child_id,
                               epoch=epoch, liveness=lv)
            if hang_at_start and hang_at_start.get(cid):  # a message that beats the supervisor's Ping
                hang_at_start[cid] -= 1
                ref.tell("hang")
            return ref
        return start
    specs = [ChildSpec(c, starter(c), shutdown_timeout=1.0, max_handler_s=max_handler_s) for c in ORDER]
    ref = Supervisor.start(parent=parent, child_id="sup", epoch=1, specs=specs, strategy=strategy,
                           intensity=intensity, period=period, start_timeout=2.0)
    return ref


def child_ref(sup, cid):
    return sup.proxy().children.get().get(cid).ref


def test_children_start_in_order_and_stop_in_reverse():
    j = Journal()
    sup = make_sup(j)
    assert sup.ask(Ping(), timeout=5)
    starts = [e[1] for e in j.drain() if e[0] == "start"]
    assert starts == ORDER
    sup.stop(timeout=5)
    stops = [e[1] for e in j.drain() if e[0] == "stop"]
    assert stops == list(reversed(ORDER))


@pytest.mark.parametrize("failed, restarted", [
    ("quoter", ["quoter"]),
    ("order", ["order", "quoter"]),
    ("book", ORDER),
])
def test_rest_for_one_restarts_the_right_children_in_order(failed, restarted):
    j = Journal()
    sup = make_sup(j)
    sup.ask(Ping(), timeout=5)
    j.drain()
    before = {c: child_ref(sup, c) for c in ORDER}
    child_ref(sup, failed).tell(Crash())
    j.wait_for(lambda e: e[0] == "start" and e[1] == "quoter")
    sup.ask(Ping(), timeout=5)
    after = {c: child_ref(sup, c) for c in ORDER}
    assert [c for c in ORDER if after[c] is not before[c]] == restarted
    assert [c for c in ORDER if after[c] is before[c]] == [c for c in ORDER if c not in restarted]
    assert all(after[c].is_alive() for c in ORDER)
    sup.stop(timeout=5)


def test_intensity_exceeded_stops_children_and_escalates():
    j = Journal()
    parent = Parent.start(j)
    sup = make_sup(j, intensity=2, period=60.0, parent=parent)
    sup.ask(Ping(), timeout=5)
    for _ in range(3):
        ref = child_ref(sup, "quoter")
        ref.tell(Crash())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if child_ref(sup, "quoter") is not ref:
                    break
            except (pykka.ActorDeadError, AttributeError):
                break
            time.sleep(0.02)
    j.wait_for(lambda e: e == ("parent", "sup", "error"))
    assert not sup.is_alive()
    j.drain(0.3)  # let the stops settle
    alive = [a for a in pykka.ActorRegistry.get_by_class(Worker) if a.is_alive()]
    assert alive == []
    parent.stop()


def test_restarts_outside_the_period_do_not_accumulate():
    j = Journal()
    sup = make_sup(j, intensity=1, period=10.0)
    sup.ask(Ping(), timeout=5)
    j.drain()
    for t in (0.0, 20.0, 40.0):
        sup.tell(Tick(now=t))
        ref = child_ref(sup, "quoter")
        ref.tell(Crash())
        j.wait_for(lambda e: e[0] == "start" and e[1] == "quoter")
    assert sup.ask(Ping(), timeout=5)
    sup.stop(timeout=5)


def test_hung_child_is_abandoned_and_replaced_by_the_watchdog():
    j = Journal()
    gate = threading.Event()
    sup = make_sup(j, gate=gate, max_handler_s=0.2)
    sup.ask(Ping(), timeout=5)
    old = child_ref(sup, "order")
    old.tell("hang")
    time.sleep(0.4)
    sup.tell(Tick(now=1.0))
    j.wait_for(lambda e: e[0] == "start" and e[1] == "quoter")
    new = child_ref(sup, "order")
    assert new is not old
    gate.set()  # the zombie wakes up: its kill switch makes it die at its next message
    time.sleep(0.1)
    try:
        old.tell(Ping())
    except pykka.ActorDeadError:
        pass
    time.sleep(0.2)
    assert not old.is_alive()
    assert new.is_alive()
    sup.stop(timeout=5)


def test_a_restart_does_not_wait_out_a_busy_siblings_hang():
    """A crash of book restarts the order actor too; the order actor is stuck in a
    handler (not yet past its budget): the restart abandons it after a short grace
    instead of waiting the hang (or the 1 s shutdown timeout) out."""
    j = Journal()
    gate = threading.Event()
    sup = make_sup(j, gate=gate, max_handler_s=5.0)
    sup.ask(Ping(), timeout=5)
    old = child_ref(sup, "order")
    old.tell("hang")
    time.sleep(0.1)
    j.drain(settle=0.0)
    t0 = time.monotonic()
    child_ref(sup, "book").tell(Crash())
    j.wait_for(lambda e: e[0] == "start" and e[1] == "quoter")
    took = time.monotonic() - t0
    new = child_ref(sup, "order")
    assert new is not old and new.is_alive()
    assert took < 0.8, f"the restart took {took:.2f}s"
    gate.set()
    sup.stop(timeout=5)


def test_a_replacement_hung_before_it_answers_its_start_is_declared_within_its_budget():
    """The replacement's first handler (a message queued before the supervisor's start
    Ping) hangs: the start fails once the handler is past its budget (0.3 s), not after
    the whole start timeout (2 s) with every sibling unwatched, and the next start quotes."""
    j = Journal()
    gate = threading.Event()
    hang_at_start = {"quoter": 0}
    sup = make_sup(j, gate=gate, max_handler_s=0.3, hang_at_start=hang_at_start)
    sup.ask(Ping(), timeout=5)
    j.drain(settle=0.0)
    hung_ones = []
    hang_at_start["quoter"] = 1
    old = child_ref(sup, "quoter")
    t0 = time.monotonic()
    old.tell(Crash())
    j.wait_for(lambda e: e[0] == "start" and e[1] == "quoter" and (hung_ones.append(e) or len(hung_ones) == 2))
    took = time.monotonic() - t0
    assert sup.ask(Ping(), timeout=5)
    new = child_ref(sup, "quoter")
    assert new is not old and new.is_alive()
    assert len(hung_ones) == 2 and hung_ones[0][2] < hung_ones[1][2]  # the hung one, then a healthy one
    assert took < 1.5, f"the replacement's hang took {took:.2f}s to declare"
    gate.set()
    sup.stop(timeout=5)


def test_child_failing_init_fails_the_supervisor_start_and_rolls_back():
    j = Journal()
    parent = Parent.start(j)
    sup = make_sup(j, parent=parent, fail="order")
    seen = j.wait_for(lambda e: e[0] == "parent" and e[1] == "sup" and e[2] == "start_failed")
    stopped = [e[1] for e in seen + j.drain() if e[0] == "stop"]
    assert stopped[-2:] == ["risk", "book"]  # rolled back in reverse start order
    assert not sup.is_alive()
    parent.stop()
