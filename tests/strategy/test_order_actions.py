"""A quote replaced in one command is one modify with its old and new price and size."""
from __future__ import annotations

from messages.orders import NewOrder
from strategy.order_actions import OrderAction, order_actions
from strategy.order_diff import LiveOrder


def _live(cloid: str, side: str, level: int, px: float, sz: float) -> LiveOrder:
    return LiveOrder(cloid=cloid, side=side, level=level, px=px, sz=sz, state="cancelling")


def test_a_cancel_and_a_placement_on_one_side_are_one_modify_of_that_level():
    live = {"b0": _live("b0", "B", 0, 99.0, 1.0), "b1": _live("b1", "B", 1, 98.0, 2.0),
            "a0": _live("a0", "A", 0, 101.0, 1.0)}
    got = order_actions(["b0", "b1", "a0", "gone"],
                        [NewOrder("n1", "B", 97.5, 2.5, level=1), NewOrder("n2", "A", 101.5, 1.0, level=0),
                         NewOrder("n3", "A", 102.0, 1.0, level=1)], live)
    assert got == [
        OrderAction("cancel", "b0", "B", 99.0, 1.0),  # nothing replaces it on its side
        OrderAction("cancel", "gone"),  # an order we no longer know: a plain cancel
        OrderAction("modify", "n1", "B", 97.5, 2.5, "b1", 98.0, 2.0),  # same side and level
        OrderAction("modify", "n2", "A", 101.5, 1.0, "a0", 101.0, 1.0),
        OrderAction("place", "n3", "A", 102.0, 1.0),  # no cancelled ask left to replace
    ]


def test_without_a_matching_level_the_oldest_cancelled_order_on_the_side_is_replaced():
    live = {"b0": _live("b0", "B", 0, 99.0, 1.0), "b1": _live("b1", "B", 1, 98.0, 2.0)}
    got = order_actions(["b0", "b1"], [NewOrder("n", "B", 99.5, 1.0, level=3)], live)
    assert [(a.action, a.cloid, a.old_cloid) for a in got] == [("cancel", "b1", ""), ("modify", "n", "b0")]


def test_the_emergency_ioc_is_a_placement_of_its_own_never_a_modify():
    live = {"a0": _live("a0", "A", 0, 101.0, 1.0)}
    ioc = NewOrder("x", "A", 99.7, 0.5, tif="Ioc", reduce_only=True)
    got = order_actions(["a0"], [ioc, NewOrder("n", "A", 100.5, 1.0)], live)
    assert got == [OrderAction("place", "x", "A", 99.7, 0.5, text="Ioc reduce-only"),
                   OrderAction("modify", "n", "A", 100.5, 1.0, "a0", 101.0, 1.0)]
