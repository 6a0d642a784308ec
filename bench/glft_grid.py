"""hftbacktest's GLFT grid market maker, as its tutorial "GLFT Market Making Model and Grid
Trading" writes it (nkaz001/hftbacktest examples; ``../shared/reference/models.md`` §2.3,
§2.4), the yardstick issue 12 measures makerhive's quoter against.

Every 100 ms: the deepest market trade since the last step measured from the previous
mid (in ticks); every 5 s, over the last 10 minutes, A and k fitted from how often trades
reached each depth (half-tick bins, the first 70) and σ from 100 ms mid changes; GLFT
half spread and skew (γ = 0.05, Δ = 1, ξ = γ; skew × 0.05 as the tutorial adjusts it);
a grid of 20 post-only orders per side spaced by the half spread, an order kept while
its price is still on the grid. Only the order size is ours (the comparison's).
Needs the ``bench`` extra (hftbacktest, numba).
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64
from numba.typed import Dict

from hftbacktest import BUY, BUY_EVENT, GTX, LIMIT, SELL

WINDOW_STEPS = 6_000  # 10 minutes of 100 ms steps
REFIT_STEPS = 50  # 5 s


@njit(cache=True)
def measure_trading_intensity(order_arrival_depth: np.ndarray, out: np.ndarray) -> np.ndarray:
    max_tick = 0
    for depth in order_arrival_depth:
        if not np.isfinite(depth):
            continue
        # half-tick bins from the mid; index 0: the nearest price a quote can have
        tick = round(depth / 0.5) - 1
        if tick < 0 or tick >= len(out):
            continue
        out[:tick] += 1  # every quote shallower than the trade's depth would have filled
        max_tick = max(max_tick, tick)
    return out[:max_tick]


@njit(cache=True)
def compute_coeff(xi: float, gamma: float, delta: float, a: float, k: float) -> tuple[float, float]:
    inv_k = np.divide(1, k)
    c1 = 1 / (xi * delta) * np.log(1 + xi * delta * inv_k)
    c2 = np.sqrt(np.divide(gamma, 2 * a * delta * k) * ((1 + xi * delta * inv_k) ** (k / (xi * delta) + 1)))
    return c1, c2


@njit(cache=True)
def linear_regression(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    sx = np.sum(x)
    sy = np.sum(y)
    sx2 = np.sum(x ** 2)
    sxy = np.sum(x * y)
    w = len(x)
    slope = (w * sxy - sx * sy) / (w * sx2 - sx ** 2)
    intercept = (sy - slope * sx) / w
    return slope, intercept


@njit
def gridtrading_glft_mm(hbt, order_qty: float, max_steps: int, out: np.ndarray) -> int:
    """Run to the end of the data (or ``max_steps``); ``out``: [steps, requotes (orders
    submitted), cancels]. Returns the steps run."""
    asset_no = 0
    tick_size = hbt.depth(asset_no).tick_size
    arrival_depth = np.full(max_steps, np.nan, np.float64)
    mid_price_chg = np.full(max_steps, np.nan, np.float64)
    t = 0
    mid_price_tick = np.nan
    tmp = np.zeros(500, np.float64)
    ticks = np.arange(len(tmp)) + 0.5
    a = np.nan
    k = np.nan
    volatility = np.nan
    gamma = 0.05
    delta = 1.0
    adj1 = 1.0
    adj2 = 0.05
    max_position = 20 * order_qty
    grid_num = 20
    submitted = 0
    cancelled = 0
    while hbt.elapse(100_000_000) == 0:
        if not np.isnan(mid_price_tick):
            depth = -np.inf
            for last_trade in hbt.last_trades(asset_no):
                trade_price_tick = last_trade.px / tick_size
                if last_trade.ev & BUY_EVENT == BUY_EVENT:
                    depth = max(trade_price_tick - mid_price_tick, depth)
                else:
                    depth = max(mid_price_tick - trade_price_tick, depth)
            arrival_depth[t] = depth
        hbt.clear_last_trades(asset_no)
        hbt.clear_inactive_orders(asset_no)
        depth_ = hbt.depth(asset_no)
        position = hbt.position(asset_no)
        orders = hbt.orders(asset_no)
        best_bid_tick = depth_.best_bid_tick
        best_ask_tick = depth_.best_ask_tick
        prev_mid_price_tick = mid_price_tick
        mid_price_tick = (best_bid_tick + best_ask_tick) / 2.0
        mid_price_chg[t] = mid_price_tick - prev_mid_price_tick
        if t % REFIT_STEPS == 0 and t >= WINDOW_STEPS - 1:
            tmp[:] = 0
            lambda_ = measure_trading_intensity(arrival_depth[t + 1 - WINDOW_STEPS:t + 1], tmp)
            if len(lambda_) > 2:
                lambda_ = lambda_[:70] / 600
                x = ticks[:len(lambda_)]
                y = np.log(lambda_)
                k_, log_a = linear_regression(x, y)
                a = np.exp(log_a)
                k = -k_
            volatility = np.nanstd(mid_price_chg[t + 1 - WINDOW_STEPS:t + 1]) * np.sqrt(10)
        c1, c2 = compute_coeff(gamma, gamma, delta, a, k)
        half_spread_tick = (c1 + delta / 2 * c2 * volatility) * adj1
        skew = c2 * volatility * adj2
        reservation_price_tick = mid_price_tick - skew * position / order_qty
        bid_price_tick = min(np.round(reservation_price_tick - half_spread_tick), best_bid_tick)
        ask_price_tick = max(np.round(reservation_price_tick + half_spread_tick), best_ask_tick)
        bid_price = bid_price_tick * tick_size
        ask_price = ask_price_tick * tick_size
        grid_interval = max(np.round(half_spread_tick) * tick_size, tick_size)
        bid_price = np.floor(bid_price / grid_interval) * grid_interval
        ask_price = np.ceil(ask_price / grid_interval) * grid_interval
        new_bid_orders = Dict.empty(np.uint64, np.float64)
        if position < max_position and np.isfinite(bid_price):
            for _ in range(grid_num):
                new_bid_orders[uint64(round(bid_price / tick_size))] = bid_price  # the price in ticks is the id
                bid_price -= grid_interval
        new_ask_orders = Dict.empty(np.uint64, np.float64)
        if position > -max_position and np.isfinite(ask_price):
            for _ in range(grid_num):
                new_ask_orders[uint64(round(ask_price / tick_size))] = ask_price
                ask_price += grid_interval
        order_values = orders.values()
        while order_values.has_next():
            order = order_values.get()
            if order.cancellable:  # off the new grid: cancel; on it: keep its queue place
                if ((order.side == BUY and order.order_id not in new_bid_orders)
                        or (order.side == SELL and order.order_id not in new_ask_orders)):
                    hbt.cancel(asset_no, order.order_id, False)
                    cancelled += 1
        for order_id, order_price in new_bid_orders.items():
            if order_id not in orders:
                hbt.submit_buy_order(asset_no, order_id, order_price, order_qty, GTX, LIMIT, False)
                submitted += 1
        for order_id, order_price in new_ask_orders.items():
            if order_id not in orders:
                hbt.submit_sell_order(asset_no, order_id, order_price, order_qty, GTX, LIMIT, False)
                submitted += 1
        t += 1
        if t >= max_steps:
            break
    out[0] = t
    out[1] = submitted
    out[2] = cancelled
    return t
