"""Pure supervision decisions: restart sets, intensity window, backoff."""
import random

import pytest

from supervisor.policy import RestartIntensity, affected_children, backoff_delay, should_restart
from exchange_rules.cloid import make_cloid, parse_cloid

ORDER = ["book", "risk", "order", "quoter"]


@pytest.mark.parametrize("failed, expected", [
    ("quoter", ["quoter"]),
    ("order", ["order", "quoter"]),
    ("risk", ["risk", "order", "quoter"]),
    ("book", ["book", "risk", "order", "quoter"]),
])
def test_rest_for_one_restarts_failed_and_later(failed, expected):
    assert affected_children("rest_for_one", ORDER, failed) == expected


def test_one_for_one_and_one_for_all():
    assert affected_children("one_for_one", ORDER, "risk") == ["risk"]
    assert affected_children("one_for_all", ORDER, "quoter") == ORDER


def test_restart_types():
    assert should_restart("permanent", "normal") and should_restart("permanent", "error")
    assert not should_restart("transient", "normal") and should_restart("transient", "error")
    assert not should_restart("temporary", "error")


def test_intensity_more_than_max_in_period_gives_up():
    ri = RestartIntensity(3, 60.0)
    assert all(ri.allow(t) for t in (0.0, 10.0, 20.0))
    assert not ri.allow(30.0)  # a 4th within 60 s


def test_intensity_forgets_restarts_outside_the_window():
    ri = RestartIntensity(2, 10.0)
    assert ri.allow(0.0) and ri.allow(5.0)
    assert ri.allow(10.5)  # the one at 0 has left the window
    assert ri.allow(16.0)  # the one at 5 too
    assert not ri.allow(16.5)


def test_backoff_grows_and_is_capped_with_jitter():
    rng = random.Random(1)
    delays = [backoff_delay(i, 2.0, 30.0, 0.2, rng) for i in range(8)]
    assert 2.0 <= delays[0] <= 2.4 and 4.0 <= delays[1] <= 4.8
    assert all(30.0 <= d <= 36.0 for d in delays[4:])


def test_cloid_round_trip_and_foreign_ids():
    c = make_cloid(3, 17, 123456789)
    assert len(c) == 34 and c.startswith("0x")
    assert parse_cloid(c) == (3, 17, 123456789)
    assert parse_cloid("0x1234567890abcdef1234567890abcdef") is None
    assert parse_cloid("nope") is None
