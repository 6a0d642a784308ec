"""Runs for weeks: the run's record of events goes to its file as it happens, and only
the latest stay in memory, so a long run's memory does not grow with its events."""
import json

import msgspec

from actors.status import StatusBoard


def test_every_event_reaches_the_sink_while_memory_keeps_the_latest():
    board = StatusBoard(["BTC"], keep_record=50)
    written: list[bytes] = []
    board.event_sink = lambda ev: written.append(msgspec.json.encode(ev))
    for i in range(500):
        board.event(float(i), "reject", "BTC", f"reject {i}")
    assert len(written) == 500 and json.loads(written[-1])["text"] == "reject 499"
    kept = len(board.events)
    assert 50 <= kept <= 100 and [e.text for e in board.events] == [f"reject {i}" for i in range(500 - kept, 500)]
    assert board.counters["reject"] == 500  # the counts keep the whole run


def test_the_events_file_holds_the_whole_run(tmp_path):
    from makerhive.app import Hive
    from tests.hive_helpers import sim_config

    hive = Hive(sim_config(run={"journal_dir": str(tmp_path)}), seed=3)
    hive.board.keep_record = 1  # memory keeps one or two
    hive.start()
    try:
        hive.wait_until(3.0)
        for i in range(5):
            hive.board.event(hive.sim_time(), "reject", "BTC", f"chaos {i}")
        assert len(hive.board.events) <= 2
    finally:
        summary = hive.stop()
    events = [json.loads(line) for line in open(summary["portfolio"]["events_file"])]
    assert [e["text"] for e in events if e["text"].startswith("chaos")] == [f"chaos {i}" for i in range(5)]
    assert {e["kind"] for e in events} >= {"reconciled", "reject"} and len(events) > 5
