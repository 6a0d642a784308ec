"""The event clock's order: (time, priority, order scheduled), whether an event waits in
the heap or in the FIFO kept for messages sent for "now" at the last priority."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.clock import EventQueue

# each step: pop one event, or push one at (now + delay, priority)
_steps = st.lists(st.one_of(st.just(None), st.tuples(st.sampled_from([0, 0, 0, 1, 5]), st.integers(0, 3))),
                  max_size=80)


def _run(q: EventQueue, steps, end: int) -> list[tuple[int, int, int]]:
    out = []
    now = 0
    for i, step in enumerate(steps):
        if step is None:
            ev = q.pop_due(end)
            if ev is not None:
                now = ev[0]
                out.append((ev[0], ev[1], ev[4]))
        else:
            delay, prio = step
            q.push(now + delay, prio, 0, i)
    while (ev := q.pop_due(end)) is not None:
        out.append((ev[0], ev[1], ev[4]))
    return out


@given(_steps, st.integers(0, 12))
@settings(max_examples=300, deadline=None)
def test_the_now_fifo_keeps_the_heaps_order(steps, end):
    plain = _run(EventQueue(), steps, end)
    with_fifo = _run(EventQueue(last_prio=3), steps, end)
    assert with_fifo == plain
    assert [e[0] for e in plain] == sorted(e[0] for e in plain)  # never back in time


def test_messages_sent_now_wait_behind_what_was_already_due_now():
    q = EventQueue(last_prio=3)
    q.push(10, 3, 0, "reply due at 10")
    q.push(10, 0, 0, "step at 10")
    assert q.pop_due(100)[4] == "step at 10"
    q.push(10, 3, 0, "message sent at 10")  # into the FIFO
    q.push(10, 1, 0, "book push at 10")  # a lower priority number goes first, though sent later
    assert [q.pop_due(100)[4] for _ in range(3)] == ["book push at 10", "reply due at 10", "message sent at 10"]
    assert q.pop_due(100) is None and len(q) == 0
