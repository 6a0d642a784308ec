"""The background makers' update of the order-book market, compiled (numba): one side
(``side_update``), and both sides in one call (``both_sides_update``, what the market calls).

Why: an update is some 80 random draws on 40-level slices, and as numpy calls most of
its cost was call overhead (a binomial over an array spends ~10 µs checking its
arguments). numba's ``Generator`` draws the very numbers numpy's does from the same
stream, here in the order the numpy version draws them (stale pulls, every cancel, every
arrival), so the market is bit-identical either way (tests/test_sim_orderbook.py).
Compiling takes a few seconds, so only the backtester, which runs long, asks for it, and
the compiled code is cached on disk (``cache=True``: ``__pycache__``), so that only the
first process after an install pays for it, not every backtest, worker and test. The
generator is passed as it is (unboxing it costs a few µs a call, some 10 calls a simulated
second for five assets); numba cannot cache a function that takes a jitclass.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def side_update(rng: np.random.Generator, arr: np.ndarray, bid: bool, best: int, s0: int, s1: int, p_stale: float,
                lo: int, hi: int, p_cancel: float, rate: float, order_lots: int, pulled: np.ndarray,
                cancels: np.ndarray, adds: np.ndarray) -> int:
    """Pull each stale level in [s0, s1) with ``p_stale`` (what went: ``pulled``), then on
    [lo, hi) cancel each lot with ``p_cancel`` and add Poisson(``rate``) orders of
    ``order_lots`` (``cancels``, ``adds``); the side's new best level (unchanged if the
    window is empty, as in the numpy version)."""
    for k in range(s1 - s0):
        if rng.random() < p_stale:
            pulled[k] = arr[s0 + k]
            arr[s0 + k] = 0
        else:
            pulled[k] = 0
    if lo >= hi:
        return best
    m = hi - lo
    for j in range(m):
        cancels[j] = rng.binomial(arr[lo + j], p_cancel) if p_cancel > 0 else 0
    for j in range(m):
        adds[j] = rng.poisson(rate) * order_lots
    for j in range(m):
        arr[lo + j] += adds[j] - cancels[j]
    if bid:
        i = max(best, hi - 1)
        while i > 0 and arr[i] == 0:
            i -= 1
        return i
    n = arr.size
    i = min(best, lo)
    while i < n and arr[i] == 0:
        i += 1
    return i


@numba.njit(nogil=True, cache=True)
def both_sides_update(rng: np.random.Generator, bids: np.ndarray, asks: np.ndarray, bb: int, ba: int, bid_anchor: int,
                      ask_floor: int, ours_bid: int, ours_ask: int, window: int, p_stale: float, p_cancel: float,
                      rate: float, order_lots: int, pulled_b: np.ndarray, cancels_b: np.ndarray, adds_b: np.ndarray,
                      pulled_a: np.ndarray, cancels_a: np.ndarray, adds_a: np.ndarray) -> tuple[int, int, int, int]:
    """One whole update of the makers, bids then asks, as two ``side_update`` calls with the
    anchors the market works out between them: the bids' anchor stays under the asks (ours
    included, ``ours_ask``; -1: none), the asks' above the bids as just updated (``ours_bid``).
    Returns (best bid, best ask, bid anchor, ask anchor). The caller sizes the ``pulled``
    buffers for the stale ranges (bounded before the call)."""
    n = asks.size
    ask_all = ba if ours_ask < 0 else min(ours_ask, ba)
    anchor_b = min(bid_anchor, ask_all - 1)
    bb = side_update(rng, bids, True, bb, max(anchor_b + 1, 1), bb + 1, p_stale, max(1, anchor_b - window + 1),
                     anchor_b + 1, p_cancel, rate, order_lots, pulled_b, cancels_b, adds_b)
    bid_all = bb if ours_bid < 0 else max(ours_bid, bb)
    anchor_a = max(ask_floor, bid_all + 1)
    ba = side_update(rng, asks, False, ba, ba, min(anchor_a, n), p_stale, anchor_a, min(n, anchor_a + window),
                     p_cancel, rate, order_lots, pulled_a, cancels_a, adds_a)
    return bb, ba, anchor_b, anchor_a


def both_sides_entry():  # type: ignore[no-untyped-def]
    """``both_sides_update``'s compiled entry point for the argument types the market passes.

    Calling it skips numba's per-call type dispatch (resolving the types of 20 arguments,
    a ``Generator`` among them: about a third of a call's cost); the code run is the same."""
    z = np.zeros(1, dtype=np.int64)
    return _entry(both_sides_update,
                  (np.random.default_rng(0), z, z, 0, 1, 0, 1, -1, -1, 1, 0.0, 0.0, 0.0, 1, z, z, z, z, z, z))


def _entry(kernel, sample: tuple):  # type: ignore[no-untyped-def]
    """The entry point of ``kernel`` compiled for the types of ``sample`` (compiled, or loaded
    from the disk cache, on first use: called once on the sample, a throwaway generator and
    empty windows, so nothing is drawn from a real stream). Other signatures may exist (a
    kernel called from another is compiled for it too); this one is the Python caller's."""
    sig = tuple(numba.typeof(a) for a in sample)
    if sig not in kernel.overloads:
        kernel(*sample)
    return kernel.overloads[sig].entry_point
