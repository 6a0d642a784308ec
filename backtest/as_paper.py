"""The Avellaneda–Stoikov (2008) paper's own market, to check the model against the paper.

Market (reference/strategy.md): the mid starts at s0 = 100 and moves ±σ·√dt with equal
probability each step (arithmetic Brownian motion, σ = 2, T = 1, dt = 0.005: 200
steps); a quote δ away from the mid is hit with probability λ(δ)·dt per step,
λ(δ) = A·e^(−k·δ) (A = 140, k = 1.5), one unit per fill, each side independently.
Each step: quote, draw the fills, then the mid moves. Profit = cash + q·s_T.

Strategies:

- ``"inventory"``: the paper's. Reservation price r = s − q·γ·σ²·(T − t), total spread
  γσ²(T − t) + (2/γ)·ln(1 + γ/k) centred on r (``strategy.avellaneda``).
- ``"symmetric"``: the same spread, centred on the mid.

All paths run at once (numpy arrays over paths). The uniforms are drawn in the same
order whatever the strategy, so two strategies with one seed see the same mid path
and the same fill draws (common random numbers).

For the symmetric strategy the expected profit has a closed form. Profit decomposes
into what each fill earns against the mid (δ per fill) plus Σ q_t·(s_{t+1} − s_t);
the mid's steps have mean zero and are independent of the inventory held over them,
so the second sum has expectation zero, and

    E[profit] = Σ_steps 2·min(1, λ(δ_t)·dt)·δ_t,   δ_t = spread_t / 2

(``symmetric_expected_profit``).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

from strategy import avellaneda

Strategy = Literal["inventory", "symmetric"]
STRATEGIES = ("inventory", "symmetric")
PAPER = {"s0": 100.0, "sigma": 2.0, "T": 1.0, "dt": 0.005, "k": 1.5, "A": 140.0}
KEYS = ("profit_mean", "profit_std", "final_q_mean", "final_q_std", "spread_mean")


def _steps(T: float, dt: float) -> int:
    return int(round(T / dt))


def _spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    return avellaneda.optimal_spread(gamma, sigma, tau, k)


def symmetric_expected_profit(gamma: float, *, sigma: float = PAPER["sigma"], T: float = PAPER["T"],
                              dt: float = PAPER["dt"], k: float = PAPER["k"], A: float = PAPER["A"]) -> float:
    """E[profit] of the symmetric strategy: Σ_t 2·min(1, λ(δ_t)·dt)·δ_t (see the module doc)."""
    total = 0.0
    for i in range(_steps(T, dt)):
        delta = _spread(gamma, sigma, T - i * dt, k) / 2.0
        total += 2.0 * min(1.0, A * math.exp(-k * delta) * dt) * delta
    return total


def run_as_paper(strategy: str, gamma: float, paths: int = 1000, seed: int = 0, *,
                 s0: float = PAPER["s0"], sigma: float = PAPER["sigma"], T: float = PAPER["T"],
                 dt: float = PAPER["dt"], k: float = PAPER["k"], A: float = PAPER["A"]) -> dict[str, float]:
    """Simulate ``paths`` paths; the paper's table columns for this strategy and γ."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if paths < 2:
        raise ValueError(f"paths must be >= 2, got {paths}")
    rng = np.random.Generator(np.random.PCG64(seed))
    inventory = strategy == "inventory"
    s = np.full(paths, float(s0))
    q = np.zeros(paths)
    cash = np.zeros(paths)
    move = sigma * math.sqrt(dt)
    spread_sum = 0.0
    n = _steps(T, dt)
    for i in range(n):
        tau = T - i * dt
        half = _spread(gamma, sigma, tau, k) / 2.0
        spread_sum += 2.0 * half  # the same for every path (the spread ignores q)
        centre = s - q * (gamma * sigma * sigma * tau) if inventory else s
        bid, ask = centre - half, centre + half
        u = rng.random((3, paths))  # bid fill, ask fill, mid step: fixed order
        p_bid = np.minimum(1.0, A * np.exp(-k * (s - bid)) * dt)
        p_ask = np.minimum(1.0, A * np.exp(-k * (ask - s)) * dt)
        buy = u[0] < p_bid
        sell = u[1] < p_ask
        cash += np.where(sell, ask, 0.0) - np.where(buy, bid, 0.0)
        q += buy.astype(float) - sell.astype(float)
        s = s + np.where(u[2] < 0.5, move, -move)
    profit = cash + q * s
    return {
        "profit_mean": float(profit.mean()),
        "profit_std": float(profit.std(ddof=1)),
        "final_q_mean": float(q.mean()),
        "final_q_std": float(q.std(ddof=1)),
        "spread_mean": spread_sum / n,
    }
